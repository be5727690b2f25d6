/**
 * A numpy array to be pickled: numeric dtypes from a typed array (or streamed in chunks, so a
 * MOSEI-size feature block never has to exist in memory at once) and fixed-width `<U` strings.
 */
import { endianness } from 'node:os';

/** numpy dtype strings this writer emits ('<' little-endian; 1-byte types have no order). */
export type NumericDtype = 'f4' | 'f8' | 'i4' | 'i8' | 'u1' | 'b1';

type TypedArrayFor<D extends NumericDtype> = D extends 'f4'
  ? Float32Array
  : D extends 'f8'
    ? Float64Array
    : D extends 'i4'
      ? Int32Array
      : D extends 'i8'
        ? BigInt64Array
        : Uint8Array;

const ITEM_BYTES: Record<NumericDtype, number> = { f4: 4, f8: 8, i4: 4, i8: 8, u1: 1, b1: 1 };

export type NdArrayData =
  | { kind: 'bytes'; chunks: () => Iterable<ArrayBufferView> }
  | { kind: 'strings'; values: readonly string[]; width: number };

export class NdArray {
  private constructor(
    /** numpy's dtype string as it appears in the pickle ('f4', 'U12' ...). */
    readonly dtype: string,
    readonly shape: readonly number[],
    /** Bytes of the raw data section. */
    readonly byteLength: number,
    readonly data: NdArrayData,
  ) {}

  /** A C-ordered array over `data`; `shape` defaults to 1-D. */
  static of<D extends NumericDtype>(
    dtype: D,
    data: TypedArrayFor<D>,
    shape: readonly number[] = [data.length],
  ): NdArray {
    const n = checkShape(shape);
    if (n !== data.length) {
      throw new Error(
        `ndarray shape [${shape.join(', ')}] holds ${n} elements, data has ${data.length}`,
      );
    }
    return NdArray.streamed(dtype, shape, () => [data]);
  }

  /**
   * Data produced on demand as a sequence of typed-array chunks in C order; the writer checks
   * that they add up to exactly the shape's byte size.
   */
  static streamed(
    dtype: NumericDtype,
    shape: readonly number[],
    chunks: () => Iterable<ArrayBufferView>,
  ): NdArray {
    if (endianness() !== 'LE') throw new Error('pickle writer: big-endian hosts are not supported');
    const n = checkShape(shape);
    return new NdArray(dtype, [...shape], n * ITEM_BYTES[dtype], { kind: 'bytes', chunks });
  }

  /** A 1-D `<U{width}` array (numpy's str array), width = longest value in code points (>= 1). */
  static strings(values: readonly string[]): NdArray {
    let width = 1;
    for (const v of values) {
      if (hasLoneSurrogate(v)) throw new Error('ndarray strings: lone UTF-16 surrogate in a value');
      width = Math.max(width, Array.from(v).length);
    }
    return new NdArray(`U${width}`, [values.length], values.length * width * 4, {
      kind: 'strings',
      values,
      width,
    });
  }
}

/** A lone UTF-16 surrogate has no UTF-8/UTF-32 form (Python would reject the pickle). */
export function hasLoneSurrogate(s: string): boolean {
  return /\p{Cs}/u.test(s);
}

function checkShape(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`ndarray: bad dimension ${d}`);
    n *= d;
  }
  return n;
}

/** `<U` data: each value as UTF-32LE code points, zero-padded to the width. */
export function utf32Block(values: readonly string[], width: number): Uint8Array {
  const out = new Uint32Array(values.length * width);
  values.forEach((v, i) => {
    let j = i * width;
    for (const ch of v) out[j++] = ch.codePointAt(0) ?? 0;
  });
  return new Uint8Array(out.buffer);
}
