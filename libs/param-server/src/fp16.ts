/**
 * IEEE 754 half precision (binary16) for gradient compression: float32 -> float16 with
 * round-to-nearest, ties to even (what a GPU's cvt.rn.f16.f32 does), and chunk encoding with a
 * per-chunk power-of-two scale so neither overflow (> 65504) nor underflow (< 2^-24) depends on
 * the gradients' magnitude.
 *
 * Chunk layout: [int32 LE k][uint16 LE halves...]; value i = half_i * 2^-k. k is chosen so the
 * chunk's largest finite |x| scales into [2^14, 2^15): a power of two scales exactly, so the
 * only error is the half rounding of each element (relative <= 2^-11 for values within 2^14 of
 * the chunk's maximum; smaller ones lose relative precision as subnormals, then flush to zero
 * below 2^-24 of the scaled range). NaN and infinities are kept (NaN stays NaN, inf stays inf),
 * so a non-finite guard downstream still fires.
 */
import os from 'node:os';

const LITTLE_ENDIAN = os.endianness() === 'LE';
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary16 bits nearest to float32 `x` (ties to even; overflow -> infinity). */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15; // the half's biased exponent
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): value = m * 2^(e - 14) units of 2^-24, m with its implicit 1.
    if (e < -10) return sign; // below half the smallest subnormal: rounds to zero
    const m = mant | 0x800000;
    const shift = 14 - e; // 14..24
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1) === 1)) h++; // may carry into the smallest normal
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++; // a carry may reach infinity: right
  return sign | h;
}

function decodeBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  return sign * (1024 + m) * 2 ** (e - 25);
}

/** Every half's float32 value, by bit pattern (256 KiB, built once). */
const HALF_VALUES: Float32Array = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = decodeBits(h);
  return t;
})();

export function f16BitsToF32(h: number): number {
  return HALF_VALUES[h & 0xffff]!;
}

/** Bytes of one chunk encoded as scaled halves (2 bytes per value + a 4-byte header). */
export function encodeF16Chunk(a: Float32Array): Buffer {
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]!);
    if (v > max && v !== Infinity) max = v;
  }
  // max * 2^k in [2^14, 2^15); k within float32's exponent range so 2^k and 2^-k are normal.
  const k = max === 0 ? 0 : Math.max(-126, Math.min(126, 14 - Math.floor(Math.log2(max))));
  const scale = 2 ** k;
  const out = Buffer.allocUnsafe(4 + 2 * a.length);
  out.writeInt32LE(k, 0);
  if (LITTLE_ENDIAN && out.byteOffset % 2 === 0) {
    const halves = new Uint16Array(out.buffer, out.byteOffset + 4, a.length);
    for (let i = 0; i < a.length; i++) halves[i] = f32ToF16Bits(a[i]! * scale);
  } else {
    for (let i = 0; i < a.length; i++) out.writeUInt16LE(f32ToF16Bits(a[i]! * scale), 4 + 2 * i);
  }
  return out;
}

/** Number of values in an encoded chunk. */
export function f16ChunkLength(b: Buffer): number {
  if (b.byteLength < 4 || b.byteLength % 2 !== 0)
    throw new Error(`fp16 chunk of ${b.byteLength} bytes: expected 4 + 2 x values`);
  return (b.byteLength - 4) / 2;
}

/** acc[i] += decoded value i, for every value of the encoded chunk `b` (float32 arithmetic). */
export function addF16Chunk(b: Buffer, acc: Float32Array): void {
  const n = f16ChunkLength(b);
  if (n !== acc.length) throw new Error(`fp16 chunk holds ${n} values, the sum has ${acc.length}`);
  const inv = 2 ** -b.readInt32LE(0);
  // Buffers read from a socket may sit at an odd offset: a typed view needs an even one.
  if (LITTLE_ENDIAN && b.byteOffset % 2 === 0) {
    const halves = new Uint16Array(b.buffer, b.byteOffset + 4, n);
    for (let i = 0; i < n; i++) acc[i] = acc[i]! + HALF_VALUES[halves[i]!]! * inv;
  } else {
    for (let i = 0; i < n; i++) acc[i] = acc[i]! + HALF_VALUES[b.readUInt16LE(4 + 2 * i)]! * inv;
  }
}
