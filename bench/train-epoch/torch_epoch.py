"""PyTorch side of bench/train-epoch: the reference's epoch (stage 0, stage 1, eval on valid and
test) on an MMSA pickle, with the parity generator's modules (libs/model/parity), float32.

Usage: /usr/bin/python3 bench/train-epoch/torch_epoch.py PKL CONFIG_JSON THREADS
Prints one JSON line: {"seconds": ..., "stage0": ..., "stage1": ..., "eval": ...}.
"""
import json
import os
import pickle
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "libs", "model", "parity"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from generate_fixtures import MMIM  # noqa: E402


def batches(split, bs, shuffle, rng):
    n = len(split["regression_labels"])
    order = rng.permutation(n) if shuffle else np.arange(n)
    for i in range(0, n, bs):
        idx = order[i : i + bs]
        tb = split["text_bert"][idx].astype(np.int64)
        vl = np.maximum(np.asarray(split["vision_lengths"])[idx], 1)
        al = np.maximum(np.asarray(split["audio_lengths"])[idx], 1)
        yield dict(
            visual=torch.from_numpy(split["vision"][idx]).float().transpose(0, 1).contiguous(),
            acoustic=torch.from_numpy(split["audio"][idx]).float().transpose(0, 1).contiguous(),
            vlens=torch.from_numpy(vl).long(), alens=torch.from_numpy(al).long(),
            bert_sent=torch.from_numpy(tb[:, 0]), bert_sent_mask=torch.from_numpy(tb[:, 1]),
            bert_sent_type=torch.from_numpy(tb[:, 2]),
            y=torch.from_numpy(np.asarray(split["regression_labels"])[idx]).float().view(-1, 1),
        )


def main():
    pkl, cfg_json, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.set_num_threads(threads)
    cfg = json.loads(cfg_json)
    with open(pkl, "rb") as f:
        data = pickle.load(f)
    hp = cfg["model"]
    torch.manual_seed(0)
    model = MMIM(hp).float()
    if cfg.get("freeze"):
        for p in model.text_enc.parameters():
            p.requires_grad_(False)
    mmilb = [p for n, p in model.named_parameters() if p.requires_grad and "mi" in n and "bert" not in n]
    main_p = [p for n, p in model.named_parameters() if p.requires_grad and "mi" not in n and "bert" not in n]
    bert_p = [p for n, p in model.named_parameters() if p.requires_grad and "bert" in n]
    opt0 = torch.optim.Adam(mmilb, lr=cfg["lr_mmilb"], weight_decay=1e-4)
    groups = [{"params": main_p, "lr": cfg["lr_main"], "weight_decay": 1e-4}]
    if bert_p:
        groups.append({"params": bert_p, "lr": cfg["lr_bert"], "weight_decay": 1e-4})
    opt1 = torch.optim.Adam(groups)
    rng = np.random.RandomState(0)
    bs = cfg["batch_size"]
    times = {}

    def run(m, tb, labels, mem):
        return m(tb["visual"], tb["acoustic"], tb["vlens"], tb["alens"], tb["bert_sent"], tb["bert_sent_type"],
                 tb["bert_sent_mask"], y=tb["y"] if labels else None, mem=mem)

    model.train()
    t = time.perf_counter()
    for tb in batches(data["train"], bs, True, rng):
        model.zero_grad(set_to_none=False)
        lld = run(model, tb, False, None)[0]
        (-lld).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt0.step()
    times["stage0"] = time.perf_counter() - t
    t = time.perf_counter()
    mem = {"tv": None, "ta": None, "va": None}
    for i, tb in enumerate(batches(data["train"], bs, True, rng)):
        model.zero_grad(set_to_none=False)
        lld, nce, preds, pn, H, _ = run(model, tb, True, mem)
        loss = F.l1_loss(preds, tb["y"]) + cfg["alpha"] * nce - cfg["beta"] * lld
        if i > 1:
            loss = loss - cfg["beta"] * H
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt1.step()
        mem = {k: ({"pos": [v["pos"].detach()], "neg": [v["neg"].detach()]} if v else None) for k, v in pn.items()}
    times["stage1"] = time.perf_counter() - t
    t = time.perf_counter()
    model.eval()
    with torch.no_grad():
        for split in ("valid", "test"):
            for tb in batches(data[split], bs, False, rng):
                run(model, tb, False, None)
    times["eval"] = time.perf_counter() - t
    times["seconds"] = times["stage0"] + times["stage1"] + times["eval"]
    print(json.dumps(times), flush=True)


if __name__ == "__main__":
    main()
