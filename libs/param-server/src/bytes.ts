/**
 * Float32 <-> raw little-endian bytes, the storage format of every tensor chunk in Redis.
 */
import os from 'node:os';

const LITTLE_ENDIAN = os.endianness() === 'LE';

/** Bytes of `a` in little-endian order; shares memory with `a` on little-endian hosts. */
export function f32ToBuffer(a: Float32Array): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const out = Buffer.allocUnsafe(a.byteLength);
  for (let i = 0; i < a.length; i++) out.writeFloatLE(a[i] ?? 0, i * 4);
  return out;
}

/**
 * A fresh Float32Array from little-endian bytes. Always copies: buffers from the Redis client
 * may be views into a shared socket buffer at an offset that is not a multiple of 4.
 */
export function bufferToF32(b: Buffer): Float32Array {
  if (b.byteLength % 4 !== 0) throw new Error(`byte length ${b.byteLength} is not a multiple of 4`);
  const out = new Float32Array(b.byteLength / 4);
  if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(b);
  else for (let i = 0; i < out.length; i++) out[i] = b.readFloatLE(i * 4);
  return out;
}
