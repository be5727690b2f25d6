/**
 * The allow-list: the only Python globals a pickle may name, and what "calling" each builds.
 * A pickle is a program; its GLOBAL opcodes name any importable callable (`os.system`,
 * `builtins.eval`, `subprocess.Popen`) and REDUCE calls it. We never call anything: each
 * allowed name maps to a function that builds plain data, and every other name is refused at
 * the GLOBAL opcode, before any argument is even read.
 */
import { PickleError } from './errors.js';
import { NdArray, NpDtype, rawBytes, shapeOf } from './numpy.js';
import { toNumeric } from './convert.js';
import { Latin1Bytes, MemoryBytes, type Bytes } from './source.js';
import {
  PyBytes,
  PyDict,
  PyGlobal,
  PyLargeText,
  PyList,
  PySet,
  PyTuple,
  describe,
  strOf,
  type PyValue,
} from './values.js';

type Builder = (args: readonly PyValue[]) => PyValue;

const NUMPY_MULTIARRAY = ['numpy.core.multiarray', 'numpy._core.multiarray'];
const NUMPY_NUMERIC = ['numpy.core.numeric', 'numpy._core.numeric'];
const BUILTINS = ['builtins', '__builtin__'];

/** Names that may appear as arguments but are never called (the class passed to _reconstruct). */
const REFERENCE_ONLY = new Set(['numpy.ndarray']);

const BUILDERS = new Map<string, Builder>();
const register = (modules: string[], name: string, build: Builder): void => {
  for (const m of modules) BUILDERS.set(`${m}.${name}`, build);
};

register(NUMPY_MULTIARRAY, '_reconstruct', (args) => {
  const [cls] = args;
  if (!(cls instanceof PyGlobal) || cls.qualifiedName !== 'numpy.ndarray') {
    throw new PickleError(
      `_reconstruct of ${describe(cls)}: only numpy.ndarray is supported (no subclasses)`,
    );
  }
  return NdArray.pending();
});

register(['numpy'], 'dtype', (args) => {
  const code = strOf(args[0]);
  if (code === undefined)
    throw new PickleError(`numpy.dtype(${describe(args[0])}) is not supported`);
  return NpDtype.fromTypecode(code);
});

register(NUMPY_MULTIARRAY, 'scalar', (args) => {
  const [dtype, data] = args;
  if (!(dtype instanceof NpDtype)) throw new PickleError(`numpy scalar of ${describe(dtype)}`);
  if (dtype.typeKind === 'O') return data ?? null;
  const bytes = rawBytes(data ?? null);
  const arr = NdArray.of(dtype, [], false, bytes);
  if (dtype.typeKind === 'U' || dtype.typeKind === 'S')
    throw new PickleError('numpy string scalars are not supported');
  const value = toNumeric(arr).data[0] as number | bigint;
  if (dtype.typeKind === 'b') return value !== 0;
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value;
  return value;
});

register(NUMPY_NUMERIC, '_frombuffer', (args) => {
  const [buf, dtype, shape] = args;
  const order = strOf(args[3]);
  if (!(buf instanceof PyBytes))
    throw new PickleError(`_frombuffer of ${describe(buf)}, not a buffer`);
  if (!(dtype instanceof NpDtype))
    throw new PickleError(`_frombuffer with ${describe(dtype)} for a dtype`);
  if (order !== 'C' && order !== 'F')
    throw new PickleError(`_frombuffer with order ${String(order)}`);
  if (dtype.typeKind === 'O') throw new PickleError('_frombuffer of an object dtype');
  return NdArray.of(dtype, shapeOf(shape ?? null), order === 'F', buf.data);
});

/** Protocol 2 writes Python 3 `bytes` as `_codecs.encode(str, 'latin1')`. */
register(['_codecs'], 'encode', (args) => {
  const [text] = args;
  const encoding = strOf(args[1]);
  if (encoding !== 'latin1' && encoding !== 'latin-1') {
    throw new PickleError(
      `_codecs.encode with encoding ${String(encoding)} (only latin1 is supported)`,
    );
  }
  return new PyBytes(latin1(text ?? null));
});

register(BUILTINS, 'bytes', (args) => {
  if (args.length === 0) return new PyBytes(new MemoryBytes(new Uint8Array(0)));
  throw new PickleError('bytes(...) with arguments is not supported');
});

register(BUILTINS, 'bytearray', (args) => {
  const [first] = args;
  const encoding = strOf(args[1]);
  if (first === undefined) return new PyBytes(new MemoryBytes(new Uint8Array(0)), true);
  if (first instanceof PyBytes) return new PyBytes(first.data, true);
  if (encoding === 'latin1' || encoding === 'latin-1') return new PyBytes(latin1(first), true);
  throw new PickleError(`bytearray(${describe(first)}) is not supported`);
});

const toSet: Builder = (args) => {
  const [items] = args;
  if (items === undefined) return new PySet();
  if (items instanceof PyList || items instanceof PyTuple || items instanceof PySet)
    return new PySet([...items.items]);
  throw new PickleError(`set(${describe(items)}) is not supported`);
};
register(BUILTINS, 'set', toSet);
register(BUILTINS, 'frozenset', toSet);

register(['collections'], 'OrderedDict', (args) => {
  const dict = new PyDict();
  const [pairs] = args;
  if (pairs === undefined) return dict;
  if (!(pairs instanceof PyList || pairs instanceof PyTuple))
    throw new PickleError('OrderedDict of a non-list');
  for (const pair of pairs.items) {
    if (!(pair instanceof PyTuple || pair instanceof PyList) || pair.items.length !== 2) {
      throw new PickleError('OrderedDict item is not a pair');
    }
    dict.set(pair.items[0] as PyValue, pair.items[1] as PyValue);
  }
  return dict;
});

function latin1(text: PyValue): Bytes {
  if (text instanceof PyLargeText) return Latin1Bytes.fromUtf8(text.utf8);
  if (typeof text === 'string') return rawBytes(text);
  throw new PickleError(`latin1 encode of ${describe(text)}`);
}

/** GLOBAL / STACK_GLOBAL: an allowed name, or a refusal that names the global. */
export function resolveGlobal(module: string, name: string): PyGlobal {
  const qualified = `${module}.${name}`;
  if (BUILDERS.has(qualified) || REFERENCE_ONLY.has(qualified)) return new PyGlobal(module, name);
  throw new PickleError(
    `refusing to load global '${qualified}': only numpy arrays, dtypes, scalars and plain containers are allowed`,
  );
}

/** REDUCE: builds the value an allowed callable stands for. */
export function callGlobal(callable: PyValue, args: PyValue): PyValue {
  if (!(callable instanceof PyGlobal))
    throw new PickleError(`REDUCE calls ${describe(callable)}, not a global`);
  const build = BUILDERS.get(callable.qualifiedName);
  if (!build) throw new PickleError(`'${callable.qualifiedName}' may not be called`);
  if (!(args instanceof PyTuple))
    throw new PickleError(`REDUCE arguments are ${describe(args)}, not a tuple`);
  return build(args.items);
}
