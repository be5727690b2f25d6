import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { downsample } from './downsample.js';
import type { CurvePoint } from './types.js';

function series(n: number, seed: number): CurvePoint[] {
  let x = seed;
  return Array.from({ length: n }, (_, i) => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return { step: i, value: x / 2147483648 - 0.5, at: i };
  });
}

describe('downsample', () => {
  it('returns short series unchanged (as a copy)', () => {
    const s = series(10, 1);
    const out = downsample(s, 10);
    assert.deepEqual(out, s);
    assert.notEqual(out, s);
  });

  it('keeps first, last, global min and max, order, and at most maxPoints', () => {
    for (const [n, max] of [
      [1001, 1000],
      [5000, 7],
      [100_000, 1000],
      [12_345, 2],
      [12_345, 3],
      [50, 4],
    ] as const) {
      const s = series(n, n + max);
      const out = downsample(s, max);
      assert.ok(out.length <= max, `${n} -> ${max}: got ${out.length}`);
      assert.equal(out[0], s[0]);
      assert.equal(out.at(-1), s.at(-1));
      for (let i = 1; i < out.length; i++) {
        assert.ok(
          (out[i] as CurvePoint).step > (out[i - 1] as CurvePoint).step,
          'strictly ordered',
        );
      }
      if (max >= 4) {
        const min = Math.min(...s.map((p) => p.value));
        const maxV = Math.max(...s.map((p) => p.value));
        assert.ok(
          out.some((p) => p.value === min),
          `${n} -> ${max}: min kept`,
        );
        assert.ok(
          out.some((p) => p.value === maxV),
          `${n} -> ${max}: max kept`,
        );
      }
    }
  });

  it('finds the extremes of a bucket around NaN and keeps an all-NaN bucket visible', () => {
    const s = series(1000, 7);
    (s[1] as CurvePoint).value = Number.NaN; // would poison a naive min/max scan
    (s[5] as CurvePoint).value = 10;
    (s[6] as CurvePoint).value = -10;
    const out = downsample(s, 4); // first, one bucket's min and max, last
    assert.deepEqual(
      out.map((p) => p.step),
      [0, 5, 6, 999],
    );
    const nan = Array.from({ length: 50 }, (_, i) => ({ step: i, value: Number.NaN, at: i }));
    assert.deepEqual(
      downsample(nan, 10).map((p) => Number.isNaN(p.value)),
      Array<boolean>(downsample(nan, 10).length).fill(true),
    );
    assert.ok(downsample(nan, 10).length <= 10);
  });

  it('refuses a budget below two points', () => {
    assert.throws(() => downsample(series(5, 1), 1), /maxPoints must be an integer >= 2, got 1/);
    assert.throws(() => downsample(series(5, 1), 2.5), /got 2.5/);
  });
});
