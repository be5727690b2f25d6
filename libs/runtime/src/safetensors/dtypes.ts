import type { SafetensorsData, SafetensorsDtype } from './types.js';

interface DtypeSpec {
  /** Bytes per element in the file. */
  size: number;
  /**
   * Rank in the safetensors library's Dtype enum, which is in increasing alignment order;
   * its serializer lays tensors out by descending rank, then by name.
   */
  rank: number;
  /** The typed array this implementation holds the elements in. */
  array: new (length: number) => SafetensorsData;
}

export const DTYPES: Readonly<Record<SafetensorsDtype, DtypeSpec>> = {
  BOOL: { size: 1, rank: 0, array: Uint8Array },
  U8: { size: 1, rank: 1, array: Uint8Array },
  I8: { size: 1, rank: 2, array: Int8Array },
  I16: { size: 2, rank: 5, array: Int16Array },
  F16: { size: 2, rank: 7, array: Float32Array },
  BF16: { size: 2, rank: 8, array: Float32Array },
  I32: { size: 4, rank: 9, array: Int32Array },
  F32: { size: 4, rank: 11, array: Float32Array },
  F64: { size: 8, rank: 12, array: Float64Array },
  I64: { size: 8, rank: 13, array: BigInt64Array },
};

export function isDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === 'string' && Object.hasOwn(DTYPES, value);
}

/** Whether `data` is the typed array used for `dtype`. */
export function holdsDtype(data: SafetensorsData, dtype: SafetensorsDtype): boolean {
  return data instanceof DTYPES[dtype].array;
}

/** Reads `count` elements of `dtype` stored little-endian at `bytes[offset...]`. */
export function decodeElements(
  bytes: Uint8Array,
  offset: number,
  count: number,
  dtype: SafetensorsDtype,
): SafetensorsData {
  const { size } = DTYPES[dtype];
  const start = bytes.byteOffset + offset;
  // A view when the data is aligned (always true for files written by the safetensors
  // library, which pads the header to 8 bytes and sorts by alignment), else one copy.
  const aligned = start % size === 0;
  const buffer = aligned ? bytes.buffer : bytes.slice(offset, offset + count * size).buffer;
  const at = aligned ? start : 0;
  switch (dtype) {
    case 'F32':
      return new Float32Array(buffer, at, count);
    case 'F64':
      return new Float64Array(buffer, at, count);
    case 'I64':
      return new BigInt64Array(buffer, at, count);
    case 'I32':
      return new Int32Array(buffer, at, count);
    case 'I16':
      return new Int16Array(buffer, at, count);
    case 'I8':
      return new Int8Array(buffer, at, count);
    case 'U8':
    case 'BOOL':
      return new Uint8Array(buffer, at, count);
    case 'F16':
      return float16ToFloat32(new Uint16Array(buffer, at, count));
    case 'BF16':
      return bfloat16ToFloat32(new Uint16Array(buffer, at, count));
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function float16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i]!;
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0)
      out[i] = sign * mantissa * 2 ** -24; // zero or subnormal
    else if (exponent === 0x1f) out[i] = mantissa === 0 ? sign * Infinity : NaN;
    else out[i] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return out;
}

export function bfloat16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) outBits[i] = bits[i]! << 16;
  return out;
}

/** Rounds to the nearest float16, ties to even (as numpy and torch do). */
export function float32ToFloat16(values: Float32Array, out: Uint16Array): void {
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i]!;
    const x = u32[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exponent = (x >>> 23) & 0xff;
    let mantissa = x & 0x7fffff;
    if (exponent === 0xff) {
      out[i] = sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200); // Inf, or a quiet NaN
      continue;
    }
    const e = exponent - 127 + 15; // rebias
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00; // overflow: Inf
      continue;
    }
    if (e <= 0) {
      // Subnormal half (or zero): shift the implicit 1 into the mantissa, then round.
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mantissa |= 0x800000;
      const shift = 14 - e;
      const half = 1 << (shift - 1);
      const rest = mantissa & ((1 << shift) - 1);
      let h = mantissa >>> shift;
      if (rest > half || (rest === half && h & 1)) h++;
      out[i] = sign | h;
      continue;
    }
    let h = (e << 10) | (mantissa >>> 13);
    const rest = mantissa & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // may carry into the exponent: fine
    out[i] = sign | h;
  }
}

/** Rounds to the nearest bfloat16, ties to even (as torch does). */
export function float32ToBfloat16(values: Float32Array, out: Uint16Array): void {
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i]!;
    const x = u32[0]!;
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) {
      out[i] = (x >>> 16) | 0x40; // keep NaN a (quiet) NaN
      continue;
    }
    out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
}
