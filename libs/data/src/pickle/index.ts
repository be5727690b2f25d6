/**
 * A strict Python unpickler for data files: protocols 2-5, numpy arrays (bool, int, uint,
 * float, `U`, `S`, object), plain containers; no code is ever run, unknown globals are refused.
 *
 *   const file = openPickle('unaligned_50.pkl');
 *   try { const root = file.root; ... toFloat32(array) ... } finally { file.close(); }
 *
 * Large payloads stay on disk until converted, so keep the file open until you are done.
 */
import { FileSource } from './source.js';
import { unpickle, type UnpickleOptions } from './unpickler.js';
import type { PyValue } from './values.js';

export { PickleError } from './errors.js';
export { NdArray, NpDtype, type DtypeKind, type NdArrayState } from './numpy.js';
export {
  toFloat32,
  toInt32,
  toNumeric,
  toObjects,
  toStrings,
  pyText,
  type NumericArray,
  type NumericTypedArray,
} from './convert.js';
export {
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
export { MemorySource, FileSource, type ByteSource, type Bytes } from './source.js';
export { unpickle, type UnpickleOptions } from './unpickler.js';

/** An unpickled file whose large payloads are read from disk on demand. */
export interface PickleFile {
  readonly path: string;
  readonly size: number;
  readonly root: PyValue;
  /** Releases the file; arrays not yet converted can no longer be read. Safe to call twice. */
  close(): void;
}

export function openPickle(path: string, options: UnpickleOptions = {}): PickleFile {
  const source = new FileSource(path);
  try {
    const root = unpickle(source, options);
    return { path, size: source.size, root, close: () => source.close() };
  } catch (err) {
    source.close();
    throw err;
  }
}
