"""Loads a pickle and prints a canonical JSON description of it (types made explicit), so a
JavaScript test can compare what Python sees with what it meant to write. Used to make
golden.json from golden.pkl (`python3 describe.py golden.pkl > golden.json`) and, where numpy is
installed, live by pickle-writer.test.ts."""
import json
import math
import pickle
import sys

import numpy as np


def describe(v):
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int):
        return {"int": str(v)}
    if isinstance(v, float):
        return {"float": repr(v) if not math.isfinite(v) else float.hex(v)}
    if isinstance(v, str):
        return {"str": v}
    if isinstance(v, list):
        return {"list": [describe(x) for x in v]}
    if isinstance(v, tuple):
        return {"tuple": [describe(x) for x in v]}
    if isinstance(v, dict):
        return {"dict": [[k, describe(x)] for k, x in v.items()]}
    if isinstance(v, np.ndarray):
        flat = v.reshape(-1)
        if v.dtype.kind == "f":
            values = [float.hex(float(x)) for x in flat]
        elif v.dtype.kind == "U":
            values = [str(x) for x in flat]
        else:
            values = [str(int(x)) for x in flat]
        return {"ndarray": v.dtype.str, "shape": list(v.shape), "c_contiguous": bool(v.flags["C_CONTIGUOUS"]), "values": values}
    raise TypeError(type(v).__name__)


with open(sys.argv[1], "rb") as f:
    value = pickle.load(f)
json.dump(describe(value), sys.stdout, ensure_ascii=True)
sys.stdout.write("\n")
