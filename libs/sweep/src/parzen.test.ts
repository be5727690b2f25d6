import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CategoricalParzen, NumericParzen, defaultWeights, normalMass } from './parzen.js';
import { mulberry32 } from './rng.js';

describe('Parzen estimators', () => {
  it('normalMass matches known values, tails included', () => {
    assert.ok(Math.abs(normalMass(-1, 1) - 0.682689492) < 1e-6);
    assert.ok(Math.abs(normalMass(-Infinity, 0) - 0.5) < 1e-7);
    // Upper tail P(6 < Z < 7) = 9.865e-10 - 1.280e-12: relative precision, not 0.
    assert.ok(Math.abs(normalMass(6, 7) / 9.8531e-10 - 1) < 1e-3, String(normalMass(6, 7)));
  });

  it('Optuna default weights: flat below 25, then a ramp from 1/n for the oldest', () => {
    assert.deepEqual(defaultWeights(3), [1, 1, 1]);
    const w = defaultWeights(30);
    assert.equal(w.length, 30);
    assert.ok(Math.abs((w[0] as number) - 1 / 30) < 1e-12);
    assert.equal(w[4], 1);
    assert.deepEqual(w.slice(5), new Array<number>(25).fill(1));
  });

  it('a continuous mixture is a density on its bounds; draws stay inside', () => {
    const p = new NumericParzen(
      { low: 0, high: 2, discrete: false, prior: { mu: 1, sigma: 2 } },
      [0.1, 0.15, 1.8],
      [1, 1, 1],
    );
    let integral = 0;
    const steps = 4000;
    for (let i = 0; i < steps; i++)
      integral += Math.exp(p.logPdf(((i + 0.5) / steps) * 2)) * (2 / steps);
    assert.ok(Math.abs(integral - 1) < 1e-3, `integral ${integral}`);
    const rng = mulberry32(1);
    const xs = Array.from({ length: 2000 }, () => p.sample(rng));
    assert.ok(xs.every((x) => x >= 0 && x <= 2));
    // Two of three observations sit near 0.1: most mass is there.
    assert.ok(xs.filter((x) => x < 0.5).length > xs.filter((x) => x > 1.5).length);
  });

  it('a discrete mixture gives step probabilities that sum to 1 and integer draws', () => {
    const p = new NumericParzen(
      { low: -0.5, high: 4.5, discrete: true, prior: { mu: 2, sigma: 5 } },
      [0, 0, 3],
      [1, 1, 1],
    );
    const total = [0, 1, 2, 3, 4].reduce((s, k) => s + Math.exp(p.logPdf(k)), 0);
    assert.ok(Math.abs(total - 1) < 1e-6, `total ${total}`);
    assert.ok(p.logPdf(0) > p.logPdf(4));
    const rng = mulberry32(2);
    for (let i = 0; i < 500; i++) {
      const k = p.sample(rng);
      assert.ok(Number.isInteger(k) && k >= 0 && k <= 4, `draw ${k}`);
    }
  });

  it('categorical: smoothed weighted counts with a prior spread over the choices', () => {
    // counts: choice 0 -> 2 + 1/4, 1 -> 1/4, 2 -> 1 + 1/4, 3 -> 1/4; total 4.
    const c = new CategoricalParzen(4, [0, 2, 0], [1, 1, 1]);
    assert.ok(Math.abs(Math.exp(c.logPdf(0)) - 2.25 / 4) < 1e-12);
    assert.ok(Math.abs(Math.exp(c.logPdf(1)) - 0.25 / 4) < 1e-12);
    const rng = mulberry32(3);
    const n = 4000;
    const zeros = Array.from({ length: n }, () => c.sample(rng)).filter((x) => x === 0).length;
    assert.ok(Math.abs(zeros / n - 2.25 / 4) < 0.03, `zeros ${zeros / n}`);
  });
});
