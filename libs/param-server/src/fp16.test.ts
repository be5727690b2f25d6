/** Half-precision conversion (round to nearest, ties to even) and scaled fp16 chunks. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addF16Chunk, encodeF16Chunk, f16BitsToF32, f16ChunkLength, f32ToF16Bits } from './fp16.js';

/** Deterministic uniform [0, 1) (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function decode(b: Buffer): Float32Array {
  const out = new Float32Array(f16ChunkLength(b));
  addF16Chunk(b, out);
  return out;
}

describe('fp16', () => {
  it('round-trips every half bit pattern (NaN stays NaN)', () => {
    for (let h = 0; h < 65536; h++) {
      const x = f16BitsToF32(h);
      if (Number.isNaN(x)) assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(x))), `NaN ${h}`);
      else assert.equal(f32ToF16Bits(x), h, `half 0x${h.toString(16)}`);
    }
  });

  it('rounds to the nearest half, ties to even, at the edges of the range', () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [1 + 2 ** -11, 0x3c00], // tie: down to the even mantissa
      [1 + 3 * 2 ** -11, 0x3c02], // tie: up to the even mantissa
      [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above the tie
      [65504, 0x7bff],
      [65519, 0x7bff],
      [65520, 0x7c00], // tie between the largest half and 2^16: even is infinity
      [1e9, 0x7c00],
      [-1e9, 0xfc00],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // tie with zero: even is zero
      [1.5 * 2 ** -25, 0x0001],
      [3 * 2 ** -25, 0x0002], // subnormal tie 1.5 units: up to even 2
      [2 ** -14 - 2 ** -25, 0x0400], // the largest subnormal's tie carries into the smallest normal
      [-0, 0x8000],
      [Infinity, 0x7c00],
    ];
    for (const [x, h] of cases)
      assert.equal(f32ToF16Bits(x), h, `${x} -> 0x${f32ToF16Bits(x).toString(16)}`);
    assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN))));
  });

  it('picks the nearest of the neighbouring halves for random floats', () => {
    const next = rng(1);
    for (let i = 0; i < 20000; i++) {
      const x = Math.fround((next() - 0.5) * 2 ** Math.floor(next() * 44 - 28));
      const h = f32ToF16Bits(x);
      const err = Math.abs(f16BitsToF32(h) - x);
      for (const n of [h - 1, h + 1]) {
        if ((n & 0x7fff) >= 0x7c00 || (n & 0x8000) !== (h & 0x8000)) continue;
        assert.ok(err <= Math.abs(f16BitsToF32(n) - x), `${x}: 0x${h.toString(16)} not nearest`);
      }
    }
  });

  it('scales each chunk so large and tiny gradients keep 11 significant bits', () => {
    for (const magnitude of [1e6, 1, 1e-9]) {
      const next = rng(2);
      const a = Float32Array.from({ length: 4096 }, () => (next() - 0.5) * magnitude);
      const back = decode(encodeF16Chunk(a));
      a.forEach((x, i) => {
        // Elements within 2^10 of the chunk's maximum: relative error <= 2^-11.
        if (Math.abs(x) > (magnitude / 2) * 2 ** -10)
          assert.ok(Math.abs((back[i] ?? NaN) - x) <= Math.abs(x) * 2 ** -11, `${x} -> ${back[i]}`);
      });
    }
    const special = decode(encodeF16Chunk(Float32Array.from([NaN, Infinity, -Infinity, 3, 0])));
    assert.ok(Number.isNaN(special[0]));
    assert.deepEqual([...special.slice(1)], [Infinity, -Infinity, 3, 0]);
    assert.equal(encodeF16Chunk(new Float32Array(10)).byteLength, 4 + 20);
  });

  it('keeps the relative error of a summed heavy-tailed gradient under 1e-3', () => {
    // Gradients spanning eight orders of magnitude (a few large, most tiny), two ranks.
    const next = rng(3);
    const n = 100_000;
    const parts = [0, 1].map(() =>
      Float32Array.from({ length: n }, () => {
        const u = next();
        return (next() < 0.5 ? -1 : 1) * 10 ** (-8 * u) * (next() < 0.01 ? 30 : 1);
      }),
    );
    const sum = new Float32Array(n);
    for (const p of parts) addF16Chunk(encodeF16Chunk(p), sum);
    let num = 0;
    let den = 0;
    for (let i = 0; i < n; i++) {
      const exact = (parts[0]?.[i] ?? 0) + (parts[1]?.[i] ?? 0);
      num += ((sum[i] ?? NaN) - exact) ** 2;
      den += exact ** 2;
    }
    const rel = Math.sqrt(num / den);
    assert.ok(rel < 1e-3, `relative error ${rel}`);
    assert.ok(rel > 0, 'fp16 is not exact');
  });
});
