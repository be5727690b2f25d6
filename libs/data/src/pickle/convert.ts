/**
 * numpy arrays to JS typed arrays, always in C (row-major) order: Fortran-ordered arrays are
 * transposed. The common case (little-endian float32, C order) is read straight from the file
 * into the result's memory; conversions run in bounded chunks, so converting a 2 GB float64
 * array allocates the float32 result and one 16 MB buffer, nothing more.
 */
import { PickleError } from './errors.js';
import { NdArray } from './numpy.js';
import type { Bytes } from './source.js';
import { PyBytes, PyLargeText, describe, type PyValue } from './values.js';

export type NumericTypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** A numeric numpy array as a typed array, C order. */
export interface NumericArray {
  /** numpy's dtype name; float16 data is widened to float32 and named 'float32'. */
  dtype: string;
  shape: number[];
  data: NumericTypedArray;
}

type Ctor = { new (n: number): NumericTypedArray; new (b: ArrayBuffer): NumericTypedArray };

function ctorOf(arr: NdArray): Ctor {
  const { typeKind, itemSize } = arr.dtype;
  const table: Record<string, Ctor | undefined> = {
    b1: Uint8Array,
    i1: Int8Array,
    i2: Int16Array,
    i4: Int32Array,
    i8: BigInt64Array,
    u1: Uint8Array,
    u2: Uint16Array,
    u4: Uint32Array,
    u8: BigUint64Array,
    f4: Float32Array,
    f8: Float64Array,
  };
  const ctor = table[`${typeKind}${itemSize}`];
  if (!ctor) throw new PickleError(`${arr.describe()} is not a numeric array`);
  return ctor;
}

function bytesOf(arr: NdArray): Bytes {
  const data = arr.data;
  if (Array.isArray(data))
    throw new PickleError(`${arr.describe()} is an object array, not numeric`);
  return data;
}

/** Swaps each `size`-byte element of `u8` in place (big-endian data on a little-endian host). */
function swapBytes(u8: Uint8Array, size: number): void {
  if (size <= 1) return;
  for (let i = 0; i < u8.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = u8[a] as number;
      u8[a] = u8[b] as number;
      u8[b] = t;
    }
  }
}

const HOST_LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The array's elements in storage order, in their own dtype (f2 widened to f32). */
function storageOrder(arr: NdArray): NumericTypedArray {
  const bytes = bytesOf(arr);
  if (arr.dtype.typeKind === 'f' && arr.dtype.itemSize === 2) {
    const half = new Uint16Array(arr.size);
    readSwapped(bytes, new Uint8Array(half.buffer), arr);
    const out = new Float32Array(arr.size);
    for (let i = 0; i < half.length; i++) out[i] = halfToFloat(half[i] as number);
    return out;
  }
  const out = new (ctorOf(arr))(arr.size);
  readSwapped(bytes, new Uint8Array(out.buffer), arr);
  return out;
}

function readSwapped(bytes: Bytes, target: Uint8Array, arr: NdArray): void {
  bytes.copyTo(target);
  if (arr.dtype.littleEndian !== HOST_LITTLE) swapBytes(target, arr.dtype.itemSize);
}

/** Numeric (or bool) array to a typed array of its own dtype, C order. */
export function toNumeric(arr: NdArray): NumericArray {
  const flat = storageOrder(arr);
  const data = arr.fortran ? fortranToC(flat, arr.shape) : flat;
  const dtype = arr.dtype.typeKind === 'f' && arr.dtype.itemSize === 2 ? 'float32' : arr.dtype.name;
  return { dtype, shape: [...arr.shape], data };
}

const CHUNK_ELEMENTS = 1 << 21;

/**
 * Any numeric array as float32, C order. float32 data goes straight from the file into the
 * result; other dtypes are converted chunk by chunk.
 */
export function toFloat32(arr: NdArray): Float32Array {
  const { typeKind, itemSize } = arr.dtype;
  if (
    arr.fortran ||
    typeKind === 'U' ||
    typeKind === 'S' ||
    typeKind === 'O' ||
    (typeKind === 'f' && itemSize === 2)
  ) {
    return Float32Array.from(toNumeric(arr).data, Number);
  }
  const bytes = bytesOf(arr);
  const out = new Float32Array(arr.size);
  if (typeKind === 'f' && itemSize === 4) {
    readSwapped(bytes, new Uint8Array(out.buffer), arr);
    return out;
  }
  convertChunked(arr, bytes, (chunk, at) => {
    if (chunk instanceof BigInt64Array || chunk instanceof BigUint64Array) {
      for (let i = 0; i < chunk.length; i++) out[at + i] = Number(chunk[i]);
    } else out.set(chunk, at);
  });
  return out;
}

/**
 * Any integer, bool, or integral float array as int32, C order; refuses values that are not
 * integers or do not fit.
 */
export function toInt32(arr: NdArray): Int32Array {
  const out = new Int32Array(arr.size);
  const put = (values: ArrayLike<number | bigint>, at: number): void => {
    for (let i = 0; i < values.length; i++) {
      const v = Number(values[i]);
      if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) {
        throw new PickleError(
          `${arr.describe()} holds ${v} at flat index ${at + i}, not a 32-bit integer`,
        );
      }
      out[at + i] = v;
    }
  };
  if (arr.fortran || (arr.dtype.typeKind === 'f' && arr.dtype.itemSize === 2))
    put(toNumeric(arr).data, 0);
  else convertChunked(arr, bytesOf(arr), put);
  return out;
}

/** Reads a C-order numeric array in chunks of its own type. */
function convertChunked(
  arr: NdArray,
  bytes: Bytes,
  sink: (chunk: NumericTypedArray, at: number) => void,
): void {
  const Ctor = ctorOf(arr);
  const size = arr.dtype.itemSize;
  const chunkBuf = new ArrayBuffer(Math.min(CHUNK_ELEMENTS, Math.max(1, arr.size)) * size);
  const swap = arr.dtype.littleEndian !== HOST_LITTLE;
  forEachChunkAligned(bytes, chunkBuf, (u8, at) => {
    if (swap) swapBytes(u8, size);
    sink(new Ctor(chunkBuf).subarray(0, u8.length / size), at / size);
  });
}

function forEachChunkAligned(
  bytes: Bytes,
  buf: ArrayBuffer,
  fn: (u8: Uint8Array, at: number) => void,
): void {
  const step = buf.byteLength;
  for (let at = 0; at < bytes.length; at += step) {
    const u8 = new Uint8Array(buf, 0, Math.min(step, bytes.length - at));
    bytes.copyTo(u8, at);
    fn(u8, at);
  }
}

/** The elements of a `U`, `S`, or object array of str/bytes as strings, C order. */
export function toStrings(arr: NdArray): string[] {
  const { typeKind, itemSize } = arr.dtype;
  if (typeKind === 'O')
    return toObjects(arr).map((v, i) => pyText(v, `${arr.describe()} element ${i}`));
  if (typeKind !== 'U' && typeKind !== 'S')
    throw new PickleError(`${arr.describe()} does not hold strings`);
  const bytes = bytesOf(arr);
  const all = new Uint8Array(bytes.length);
  bytes.copyTo(all);
  const out: string[] = [];
  const utf8 = new TextDecoder('utf-8');
  const view = new DataView(all.buffer);
  for (let i = 0; i < arr.size; i++) {
    const at = i * itemSize;
    if (typeKind === 'S') {
      let end = at + itemSize;
      while (end > at && all[end - 1] === 0) end--; // numpy strips trailing NULs
      out.push(utf8.decode(all.subarray(at, end)));
    } else {
      const points: number[] = [];
      for (let j = at; j < at + itemSize; j += 4)
        points.push(view.getUint32(j, arr.dtype.littleEndian));
      while (points.length > 0 && points[points.length - 1] === 0) points.pop();
      try {
        out.push(String.fromCodePoint(...points));
      } catch {
        throw new PickleError(`${arr.describe()} element ${i} is not valid unicode`);
      }
    }
  }
  return arr.fortran ? fortranToCList(out, arr.shape) : out;
}

/**
 * The elements of an object array, C order. numpy pickles an object array's elements in C
 * order whatever its memory layout (`_getlist_pkl` iterates logically), so there is nothing
 * to transpose.
 */
export function toObjects(arr: NdArray): PyValue[] {
  const data = arr.data;
  if (!Array.isArray(data)) throw new PickleError(`${arr.describe()} is not an object array`);
  return data;
}

/** A str or bytes (decoded as UTF-8) as a JS string. */
export function pyText(v: PyValue, what: string): string {
  if (typeof v === 'string') return v;
  if (v instanceof PyBytes) return new TextDecoder('utf-8').decode(v.bytes());
  if (v instanceof PyLargeText) return v.text();
  throw new PickleError(`${what} is ${describe(v)}, expected str or bytes`);
}

/** Index of C-order position `c` in a Fortran-ordered buffer of `shape`. */
function fortranIndices(shape: readonly number[]): Int32Array | Float64Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const idx = n < 0x7fffffff ? new Int32Array(n) : new Float64Array(n);
  const rank = shape.length;
  const fStride: number[] = [];
  let s = 1;
  for (let d = 0; d < rank; d++) {
    fStride.push(s);
    s *= shape[d] as number;
  }
  const counter = new Array<number>(rank).fill(0);
  let f = 0;
  for (let c = 0; c < n; c++) {
    idx[c] = f;
    // Increment the C-order counter (last axis fastest) and track the Fortran offset.
    for (let d = rank - 1; d >= 0; d--) {
      counter[d] = (counter[d] as number) + 1;
      f += fStride[d] as number;
      if ((counter[d] as number) < (shape[d] as number)) break;
      f -= (counter[d] as number) * (fStride[d] as number);
      counter[d] = 0;
    }
  }
  return idx;
}

function fortranToC<T extends NumericTypedArray>(src: T, shape: readonly number[]): T {
  const idx = fortranIndices(shape);
  const out = new (src.constructor as new (n: number) => T)(src.length);
  if (out instanceof BigInt64Array || out instanceof BigUint64Array) {
    const s = src as BigInt64Array | BigUint64Array;
    for (let c = 0; c < idx.length; c++) out[c] = s[idx[c] as number] as bigint;
  } else {
    const s = src as Exclude<NumericTypedArray, BigInt64Array | BigUint64Array>;
    const o = out as Exclude<NumericTypedArray, BigInt64Array | BigUint64Array>;
    for (let c = 0; c < idx.length; c++) o[c] = s[idx[c] as number] as number;
  }
  return out;
}

function fortranToCList<T>(src: readonly T[], shape: readonly number[]): T[] {
  const idx = fortranIndices(shape);
  return Array.from(idx, (f) => src[f] as T);
}

/** IEEE 754 half to float. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}
