/**
 * numpy's pickled forms, rebuilt as plain data: a dtype (`numpy.dtype(code, align, copy)` then
 * `__setstate__`), and an ndarray, either
 *   `_reconstruct(ndarray, (0,), b'b')` then `__setstate__((1, shape, dtype, is_fortran, raw))`
 * (protocols 2-4, and object arrays in 5), or
 *   `_frombuffer(buffer, dtype, shape, order)` (numpy >= 1.16 with protocol 5).
 * Only numeric, bool, fixed-width unicode (`U`), bytes (`S`) and object dtypes are accepted;
 * structured, sub-array, datetime and complex dtypes are refused.
 */
import { PickleError } from './errors.js';
import { Latin1Bytes, MemoryBytes, type Bytes } from './source.js';
import { PyBytes, PyLargeText, PyList, PyTuple, describe, strOf, type PyValue } from './values.js';

export type DtypeKind = 'b' | 'i' | 'u' | 'f' | 'U' | 'S' | 'O';
export type ByteOrder = '<' | '>' | '|';

const NUMERIC_SIZES: Record<string, readonly number[]> = {
  b: [1],
  i: [1, 2, 4, 8],
  u: [1, 2, 4, 8],
  f: [2, 4, 8],
};

export class NpDtype {
  readonly kind = 'dtype';

  constructor(
    public typeKind: DtypeKind,
    /** Bytes per element (for `O`, the pointer size the file was written with; unused). */
    public itemSize: number,
    public byteOrder: ByteOrder,
  ) {}

  /** `numpy.dtype('f4', False, True)` as pickled: the code has no byte order yet. */
  static fromTypecode(code: string): NpDtype {
    const m = /^([<>=|]?)([biufUSO])(\d*)$/.exec(code);
    if (!m)
      throw new PickleError(
        `numpy dtype '${code}' is not supported (only bool, int, uint, float, U, S, O)`,
      );
    const kind = m[2] as DtypeKind;
    const n = m[3] === '' ? 0 : Number(m[3]);
    let size: number;
    if (kind === 'U') size = n * 4;
    else if (kind === 'S' || kind === 'O') size = n;
    else {
      size = m[3] === '' ? (kind === 'b' ? 1 : 8) : n;
      if (!(NUMERIC_SIZES[kind] ?? []).includes(size)) {
        throw new PickleError(
          `numpy dtype '${code}' is not supported (no ${size * 8}-bit '${kind}' type)`,
        );
      }
    }
    const order = m[1] === '>' ? '>' : m[1] === '|' || size <= 1 ? '|' : '<';
    return new NpDtype(kind, size, order);
  }

  /** `dtype.__setstate__((3, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata]))`. */
  setState(state: PyValue): void {
    if (!(state instanceof PyTuple) || (state.items.length !== 8 && state.items.length !== 9)) {
      throw new PickleError(`unexpected numpy dtype state: ${describe(state)}`);
    }
    const [version, orderValue, subarray, names, fields, elsize] = state.items;
    const order = strOf(orderValue);
    if (version !== 3 && version !== 4)
      throw new PickleError(`numpy dtype state version ${String(version)} is not supported`);
    if (subarray !== null || names !== null || fields !== null) {
      throw new PickleError('structured and sub-array numpy dtypes are not supported');
    }
    if (order === '<' || order === '>' || order === '|')
      this.byteOrder = this.itemSize <= 1 ? '|' : order;
    else if (order === '=')
      this.byteOrder = this.itemSize <= 1 ? '|' : '<'; // written on a little-endian host
    else throw new PickleError(`numpy dtype byte order ${String(order)} is not supported`);
    if (
      (this.typeKind === 'U' || this.typeKind === 'S') &&
      typeof elsize === 'number' &&
      elsize >= 0
    ) {
      if (this.typeKind === 'U' && elsize % 4 !== 0)
        throw new PickleError(`numpy U dtype of ${elsize} bytes`);
      this.itemSize = elsize;
    }
  }

  /** numpy's name: float32, int64, bool, <U5, |S3, object. */
  get name(): string {
    switch (this.typeKind) {
      case 'b':
        return 'bool';
      case 'i':
        return `int${this.itemSize * 8}`;
      case 'u':
        return `uint${this.itemSize * 8}`;
      case 'f':
        return `float${this.itemSize * 8}`;
      case 'U':
        return `${this.byteOrder === '>' ? '>' : '<'}U${this.itemSize / 4}`;
      case 'S':
        return `|S${this.itemSize}`;
      case 'O':
        return 'object';
    }
  }

  get littleEndian(): boolean {
    return this.byteOrder !== '>';
  }
}

export interface NdArrayState {
  dtype: NpDtype;
  shape: number[];
  /** True when the data is in Fortran (column-major) order. */
  fortran: boolean;
  /** Raw bytes, or the elements of an object array in storage order. */
  data: Bytes | PyValue[];
}

export class NdArray {
  readonly kind = 'ndarray';
  private state: NdArrayState | null = null;

  /** The empty array `_reconstruct` returns before `__setstate__` fills it. */
  static pending(): NdArray {
    return new NdArray();
  }

  static of(dtype: NpDtype, shape: number[], fortran: boolean, data: Bytes | PyValue[]): NdArray {
    const a = new NdArray();
    a.fill(dtype, shape, fortran, data);
    return a;
  }

  /** `ndarray.__setstate__((version, shape, dtype, is_fortran, rawdata))`; version may be absent. */
  setState(state: PyValue): void {
    if (this.state) throw new PickleError('numpy array state set twice');
    if (!(state instanceof PyTuple) || (state.items.length !== 5 && state.items.length !== 4)) {
      throw new PickleError(`unexpected numpy array state: ${describe(state)}`);
    }
    const items = state.items.length === 5 ? state.items.slice(1) : state.items;
    const [shape = null, dtype, fortran, raw = null] = items;
    if (!(dtype instanceof NpDtype))
      throw new PickleError(`numpy array state has ${describe(dtype)} for its dtype`);
    if (typeof fortran !== 'boolean' && fortran !== 0 && fortran !== 1) {
      throw new PickleError(`numpy array state has ${describe(fortran)} for is_fortran`);
    }
    let data: Bytes | PyValue[];
    if (dtype.typeKind === 'O') {
      if (!(raw instanceof PyList))
        throw new PickleError(`object array state has ${describe(raw)}, not a list`);
      data = raw.items;
    } else data = rawBytes(raw);
    this.fill(dtype, shapeOf(shape), fortran === true || fortran === 1, data);
  }

  private fill(dtype: NpDtype, shape: number[], fortran: boolean, data: Bytes | PyValue[]): void {
    const count = elementCount(shape);
    if (Array.isArray(data)) {
      if (dtype.typeKind !== 'O') throw new PickleError(`a ${dtype.name} array cannot hold a list`);
      if (data.length !== count) {
        throw new PickleError(
          `object array of shape (${shape.join(', ')}) has ${data.length} elements`,
        );
      }
    } else {
      if (dtype.typeKind === 'O')
        throw new PickleError('an object array needs a list of elements, not bytes');
      if (count * dtype.itemSize !== data.length) {
        throw new PickleError(
          `numpy ${dtype.name} array of shape (${shape.join(', ')}) needs ${count * dtype.itemSize} bytes, ` +
            `the file has ${data.length}`,
        );
      }
    }
    this.state = { dtype, shape, fortran: fortran && shape.length > 1, data };
  }

  get built(): boolean {
    return this.state !== null;
  }

  private get s(): NdArrayState {
    if (!this.state)
      throw new PickleError('numpy array was never given its data (no __setstate__)');
    return this.state;
  }
  get dtype(): NpDtype {
    return this.s.dtype;
  }
  get shape(): readonly number[] {
    return this.s.shape;
  }
  get fortran(): boolean {
    return this.s.fortran;
  }
  get data(): Bytes | PyValue[] {
    return this.s.data;
  }
  get size(): number {
    return elementCount(this.s.shape);
  }

  describe(): string {
    return this.state
      ? `ndarray ${this.state.dtype.name} (${this.state.shape.join(', ')})`
      : 'ndarray (unbuilt)';
  }
}

/** A shape tuple: non-negative integers whose product fits in a double exactly. */
export function shapeOf(value: PyValue): number[] {
  const items = value instanceof PyTuple || value instanceof PyList ? value.items : [value];
  const shape = items.map((d) => {
    if (typeof d === 'bigint' && d >= 0n && d <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(d);
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw new PickleError(`numpy shape has ${describe(d)} ${String(d)} for a dimension`);
    }
    return d;
  });
  elementCount(shape);
  return shape;
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  if (!Number.isSafeInteger(n))
    throw new PickleError(`numpy shape (${shape.join(', ')}) is absurdly large`);
  return n;
}

/** The bytes behind an array: bytes, bytearray, or (Python 2 / latin1) a str. */
export function rawBytes(raw: PyValue): Bytes {
  if (raw instanceof PyBytes) return raw.data;
  if (raw instanceof PyLargeText) return Latin1Bytes.fromUtf8(raw.utf8); // Python 2 style str data
  if (typeof raw === 'string') {
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) {
      const c = raw.charCodeAt(i);
      if (c > 0xff) throw new PickleError('array data given as a str with characters above U+00FF');
      out[i] = c;
    }
    return new MemoryBytes(out);
  }
  throw new PickleError(`numpy array data is ${describe(raw)}, not bytes`);
}
