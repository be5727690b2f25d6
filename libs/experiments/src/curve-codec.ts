/**
 * The stored form of a curve: points packed as little-endian float64 triples (step, value, at),
 * 24 bytes each, appended to one Redis string per (trial, curve).
 *
 * Why not a Redis stream (one entry per point, fields s/v/t)? We measured that first: XRANGE
 * of 100k entries took 1.4-2.4 s on the 2-core dev machine (Redis builds 7 bulk strings per
 * entry and ioredis parses them), so the dashboard's curve view cost seconds per curve. The
 * packed string of 100k points is 2.4 MB, read with a few GETRANGEs of under 1 MB each
 * (Redis stays responsive) in milliseconds, and float64 keeps every value exactly.
 */
import os from 'node:os';
import { downsampleIndices } from './downsample.js';
import type { CurvePoint } from './types.js';

export const POINT_BYTES = 24;
const LITTLE_ENDIAN = os.endianness() === 'LE';

export function packPoints(points: readonly { step: number; value: number; at: number }[]): Buffer {
  const buf = Buffer.allocUnsafe(points.length * POINT_BYTES);
  points.forEach((p, i) => {
    const o = i * POINT_BYTES;
    buf.writeDoubleLE(p.step, o);
    buf.writeDoubleLE(p.value, o + 8);
    buf.writeDoubleLE(p.at, o + 16);
  });
  return buf;
}

/** The packed triples as one aligned Float64Array (step, value, at, step, ...). */
function triples(buf: Buffer): Float64Array {
  const n = Math.floor(buf.length / POINT_BYTES);
  const out = new Float64Array(n * 3);
  if (LITTLE_ENDIAN) {
    // One copy into aligned memory, then the platform reads the doubles as they are.
    new Uint8Array(out.buffer).set(buf.subarray(0, n * POINT_BYTES));
  } else {
    for (let i = 0; i < n * 3; i++) out[i] = buf.readDoubleLE(i * 8);
  }
  return out;
}

/** Decodes whole points; a trailing partial point (never written by packPoints) is ignored. */
export function unpackPoints(buf: Buffer): CurvePoint[] {
  const f = triples(buf);
  const n = f.length / 3;
  const out = new Array<CurvePoint>(n);
  for (let i = 0; i < n; i++) {
    out[i] = {
      step: f[i * 3] as number,
      value: f[i * 3 + 1] as number,
      at: f[i * 3 + 2] as number,
    };
  }
  return out;
}

/** Decodes and downsamples in one go, building objects only for the points kept. */
export function unpackDownsampled(buf: Buffer, maxPoints: number): CurvePoint[] {
  const f = triples(buf);
  const n = f.length / 3;
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = f[i * 3 + 1] as number;
  return downsampleIndices(values, maxPoints).map((i) => ({
    step: f[i * 3] as number,
    value: f[i * 3 + 1] as number,
    at: f[i * 3 + 2] as number,
  }));
}
