import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mulberry32, rngFor } from './rng.js';
import {
  canonicalJson,
  configKey,
  discreteValues,
  gridOf,
  gridPoint,
  gridSize,
  sampleFrom,
  type Distribution,
  type Scalar,
} from './space.js';

const N = 4000;

function draws(dist: Distribution, n = N, seed = 7): Scalar[] {
  const rng = rngFor(seed, 0, 'test');
  return Array.from({ length: n }, () => sampleFrom(dist, rng));
}

/** Kolmogorov-Smirnov statistic of `xs` against U(0, 1). */
function ksUniform(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  let d = 0;
  s.forEach(
    (x, i) => (d = Math.max(d, Math.abs((i + 1) / s.length - x), Math.abs(x - i / s.length))),
  );
  return d;
}
/** KS critical value at alpha = 0.01. */
const KS_CRIT = 1.63 / Math.sqrt(N);

function counts(xs: Scalar[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(JSON.stringify(x), (m.get(JSON.stringify(x)) ?? 0) + 1);
  return m;
}

describe('seeded RNG', () => {
  it('repeats for the same seed and stream, differs across streams, stays in [0, 1)', () => {
    const a = Array.from(
      { length: 5 },
      (
        (r) => () =>
          r.next()
      )(mulberry32(42)),
    );
    const b = Array.from(
      { length: 5 },
      (
        (r) => () =>
          r.next()
      )(mulberry32(42)),
    );
    assert.deepEqual(a, b);
    assert.notEqual(rngFor(0, 3, 'alpha').next(), rngFor(0, 3, 'beta').next());
    assert.notEqual(rngFor(0, 3, 'alpha').next(), rngFor(0, 4, 'alpha').next());
    assert.notEqual(rngFor(0, 3, 'alpha').next(), rngFor(1, 3, 'alpha').next());
    const r = mulberry32(1);
    for (let i = 0; i < 10000; i++) {
      const u = r.next();
      assert.ok(u >= 0 && u < 1, `draw ${u} out of [0, 1)`);
    }
  });
});

describe('sampleFrom', () => {
  it('uniform: inside [min, max] and uniform (KS)', () => {
    const xs = draws({ kind: 'uniform', min: -2, max: 3 }) as number[];
    assert.ok(xs.every((x) => x >= -2 && x <= 3));
    const d = ksUniform(xs.map((x) => (x + 2) / 5));
    assert.ok(d < KS_CRIT, `KS ${d} >= ${KS_CRIT}`);
  });

  it('log_uniform_values: inside [min, max], uniform in log space (KS), median at the geometric mean', () => {
    const xs = draws({ kind: 'log_uniform_values', min: 1e-4, max: 3e-3 }) as number[];
    assert.ok(xs.every((x) => x >= 1e-4 && x <= 3e-3));
    const lo = Math.log(1e-4);
    const hi = Math.log(3e-3);
    const d = ksUniform(xs.map((x) => (Math.log(x) - lo) / (hi - lo)));
    assert.ok(d < KS_CRIT, `KS ${d} >= ${KS_CRIT}`);
    // A plain uniform's median would be ~1.55e-3; the log-uniform's is sqrt(1e-4 * 3e-3) ~ 5.5e-4.
    const median = [...xs].sort((a, b) => a - b)[N / 2] as number;
    assert.ok(Math.abs(Math.log(median / Math.sqrt(1e-4 * 3e-3))) < 0.1, `median ${median}`);
    // A quarter of the draws below exp(lo + (hi - lo) / 4).
    const q1 = xs.filter((x) => x < Math.exp(lo + (hi - lo) / 4)).length / N;
    assert.ok(Math.abs(q1 - 0.25) < 0.03, `lower quarter holds ${q1}`);
  });

  it('int_uniform: integers min..max inclusive, each about equally often', () => {
    const xs = draws({ kind: 'int_uniform', min: 3, max: 8 });
    const c = counts(xs);
    assert.deepEqual(
      [...c.keys()].map(Number).sort((a, b) => a - b),
      [3, 4, 5, 6, 7, 8],
    );
    for (const [v, n] of c) assert.ok(Math.abs(n / N - 1 / 6) < 0.03, `${v} drawn ${n} times`);
  });

  it('q_uniform: min + k*q up to max, exact decimals, each about equally often', () => {
    const xs = draws({ kind: 'q_uniform', min: 0.1, max: 0.5, q: 0.1 });
    const c = counts(xs);
    assert.deepEqual([...c.keys()].sort(), ['0.1', '0.2', '0.3', '0.4', '0.5']);
    for (const [v, n] of c) assert.ok(Math.abs(n / N - 0.2) < 0.03, `${v} drawn ${n} times`);
    // max not on the grid: the last step below it is the top value.
    assert.deepEqual(discreteValues({ kind: 'q_uniform', min: 16, max: 100, q: 32 }), [16, 48, 80]);
  });

  it('normal: mean mu and standard deviation sigma', () => {
    const xs = draws({ kind: 'normal', mu: 2, sigma: 0.5 }) as number[];
    const mean = xs.reduce((s, x) => s + x, 0) / N;
    const std = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (N - 1));
    assert.ok(Math.abs(mean - 2) < (4 * 0.5) / Math.sqrt(N), `mean ${mean}`);
    assert.ok(Math.abs(std / 0.5 - 1) < 0.05, `std ${std}`);
    // Unbounded: about 4.6% of draws fall outside mu +- 2 sigma.
    const outside = xs.filter((x) => Math.abs(x - 2) > 1).length / N;
    assert.ok(Math.abs(outside - 0.0455) < 0.015, `outside 2 sigma: ${outside}`);
  });

  it('categorical: every JSON scalar value, each about equally often; constant: its value', () => {
    const values: Scalar[] = ['adam', 3, true, null];
    const c = counts(draws({ kind: 'categorical', values }));
    assert.deepEqual([...c.keys()].sort(), ['"adam"', '3', 'null', 'true']);
    for (const [v, n] of c) assert.ok(Math.abs(n / N - 0.25) < 0.03, `${v} drawn ${n} times`);
    assert.deepEqual(new Set(draws({ kind: 'constant', value: 0.25 }, 50)), new Set([0.25]));
  });
});

describe('grid', () => {
  const parameters: Record<string, Distribution> = {
    d_vh: { kind: 'categorical', values: [16, 32] },
    alpha: { kind: 'categorical', values: ['x', 'y', 'z'] },
    cpc_layers: { kind: 'int_uniform', min: 1, max: 2 },
    shuffle: { kind: 'constant', value: true },
  };

  it('is the cartesian product over sorted names, the last name fastest', () => {
    assert.equal(gridSize(parameters), 12);
    const grid = gridOf(parameters);
    assert.equal(grid.length, 12);
    // Sorted names: alpha, cpc_layers, d_vh, shuffle.
    assert.deepEqual(grid.slice(0, 5), [
      { alpha: 'x', cpc_layers: 1, d_vh: 16, shuffle: true },
      { alpha: 'x', cpc_layers: 1, d_vh: 32, shuffle: true },
      { alpha: 'x', cpc_layers: 2, d_vh: 16, shuffle: true },
      { alpha: 'x', cpc_layers: 2, d_vh: 32, shuffle: true },
      { alpha: 'y', cpc_layers: 1, d_vh: 16, shuffle: true },
    ]);
    assert.deepEqual(grid[11], { alpha: 'z', cpc_layers: 2, d_vh: 32, shuffle: true });
    assert.equal(new Set(grid.map((p) => configKey(p))).size, 12);
    assert.deepEqual(gridPoint(parameters, 7), grid[7]);
    assert.equal(gridPoint(parameters, 12), null);
    assert.equal(gridPoint(parameters, -1), null);
  });

  it('does not depend on the order the parameters were written in', () => {
    const reversed = Object.fromEntries(Object.entries(parameters).reverse());
    assert.deepEqual(gridOf(reversed), gridOf(parameters));
  });

  it('refuses a continuous parameter, naming its kind', () => {
    assert.throws(
      () => gridSize({ beta: { kind: 'uniform', min: 0, max: 1 } }),
      /uniform distribution has no finite list/,
    );
  });
});

describe('configKey', () => {
  it('is 12 hex digits, independent of key order, different for different values', () => {
    const a = configKey({ alpha: 0.1, beta: 0.2, text_encoder: { freeze: true, micro_batch: 0 } });
    const b = configKey({ text_encoder: { micro_batch: 0, freeze: true }, beta: 0.2, alpha: 0.1 });
    assert.match(a, /^[0-9a-f]{12}$/);
    assert.equal(a, b);
    assert.notEqual(configKey({ alpha: 0.1, beta: 0.2 }), configKey({ alpha: 0.1, beta: 0.3 }));
    assert.notEqual(configKey({ alpha: 1 }), configKey({ alpha: '1' }));
    assert.equal(
      canonicalJson({ b: [2, { d: 1, c: null }], a: 'x' }),
      '{"a":"x","b":[2,{"c":null,"d":1}]}',
    );
  });
});
