/**
 * Finite-difference checks of the pieces whose gradients we wrote or assembled by hand:
 * logdet (custom op), the length-masked LSTM recurrence (custom op), and CPC's InfoNCE.
 * Errors are relative to the largest gradient entry.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@mmim/runtime';
import { spdLogdet } from './logdet.js';
import { lstmRecurrence } from './lstm.js';
import { cpcNce, l2NormalizeRows } from './heads.js';
import { SeededRandom } from '../rng.js';
import { finiteDifferenceCheck, sampleCoordinates } from '../testing/gradcheck.js';

function randn(n: number, rng: SeededRandom, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
}

/** Scalar value and gradient of f at x (a tensor of `shape`), read without blocking. */
async function valueAndGrad(
  f: (x: tf.Tensor) => tf.Scalar,
  x: Float32Array,
  shape: number[],
): Promise<{ value: number; grad: Float32Array }> {
  const { value, grad } = tf.tidy(() => tf.valueAndGrad(f)(tf.tensor(x, shape)));
  try {
    const [v, g] = await Promise.all([value.data(), grad.data()]);
    return { value: v[0] ?? NaN, grad: Float32Array.from(g as Float32Array) };
  } finally {
    tf.dispose([value, grad]);
  }
}

async function evaluate(
  f: (x: tf.Tensor) => tf.Scalar,
  x: Float32Array,
  shape: number[],
): Promise<number> {
  const y = tf.tidy(() => f(tf.tensor(x, shape)));
  try {
    return (await y.data())[0] ?? NaN;
  } finally {
    y.dispose();
  }
}

/** The first value of a tensor, read without blocking; the tensor is disposed. */
async function firstValue(t: tf.Tensor): Promise<number> {
  try {
    return (await t.data())[0] ?? NaN;
  } finally {
    t.dispose();
  }
}

describe('finite-difference gradient checks', () => {
  before(async () => {
    await initBackend({ backend: process.env.MMIM_TEST_BACKEND === 'cpu' ? 'cpu' : 'wasm' });
  });

  it('logdet of an SPD matrix: value matches the eigen-free 2x2 formula and the gradient is A^-T', async () => {
    const two = spdLogdet(tf.tensor2d([4, 1, 1, 3], [2, 2]));
    assert.equal(await firstValue(two.ok), 1);
    assert.ok(Math.abs((await firstValue(two.logdet)) - Math.log(11)) < 1e-6);
    const rng = new SeededRandom(3);
    const n = 6;
    const m = randn(n * 10, rng);
    // A = M^T M / 10 + 0.1 I: symmetric positive definite.
    const spd = tf.tidy(() => {
      const mt = tf.tensor2d(m, [10, n]);
      return tf.add(tf.div(tf.matMul(mt, mt, true, false), 10), tf.mul(tf.eye(n), 0.1));
    });
    const a = (await spd.data()) as Float32Array;
    spd.dispose();
    const f = (x: tf.Tensor): tf.Scalar => spdLogdet(x as tf.Tensor2D).logdet;
    const { grad } = await valueAndGrad(f, Float32Array.from(a), [n, n]);
    // Perturb symmetric pairs together (the function is only defined on symmetric matrices
    // here); the directional derivative is g_ij + g_ji.
    let worst = 0;
    for (const [i, j] of [
      [0, 0],
      [1, 3],
      [5, 2],
      [4, 4],
      [2, 5],
    ] as const) {
      const eps = 1e-3;
      const at = (s: number): Promise<number> => {
        const x = Float32Array.from(a);
        x[i * n + j] = (x[i * n + j] ?? 0) + s * eps;
        if (i !== j) x[j * n + i] = (x[j * n + i] ?? 0) + s * eps;
        return evaluate(f, x, [n, n]);
      };
      const numeric = ((await at(1)) - (await at(-1))) / (2 * eps);
      const analytic =
        i === j ? (grad[i * n + j] ?? 0) : (grad[i * n + j] ?? 0) + (grad[j * n + i] ?? 0);
      worst = Math.max(worst, Math.abs(numeric - analytic) / Math.max(Math.abs(analytic), 1));
    }
    assert.ok(worst < 2e-3, `logdet gradient error ${worst}`);
  });

  it('logdet refuses singular and indefinite matrices: ok 0, log det 0, zero gradient, no NaN', async () => {
    for (const m of [
      [1, 2, 2, 4],
      [1, 0, 0, -1],
      [NaN, 0, 0, 1],
    ]) {
      let ok: tf.Tensor | undefined;
      const g = tf.tidy(() =>
        tf.valueAndGrad((x: tf.Tensor) => {
          const r = spdLogdet(x as tf.Tensor2D);
          ok = tf.keep(r.ok);
          return r.logdet;
        })(tf.tensor2d(m, [2, 2])),
      );
      assert.ok(ok, 'spdLogdet ran');
      assert.equal(await firstValue(ok), 0, `ok for [${m}]`);
      const value = await firstValue(g.value);
      const grad = Array.from(await g.grad.data());
      g.grad.dispose();
      assert.equal(value, 0, `log det of [${m}]`);
      assert.deepEqual(grad, [0, 0, 0, 0], `gradient of [${m}]`);
    }
  });

  it('LSTM recurrence: d/d(input projection) and d/d(W_hh), with ragged lengths', async () => {
    const rng = new SeededRandom(11);
    const B = 3;
    const T = 5;
    const H = 4;
    const lengths = Int32Array.from([5, 2, 1]);
    const xp = randn(B * T * 4 * H, rng, 0.8);
    const whh = randn(4 * H * H, rng, 0.5);
    const weights = randn(B * H, rng);
    const lossOfXp = (x: tf.Tensor): tf.Scalar =>
      tf.sum(
        tf.mul(
          lstmRecurrence(x as tf.Tensor3D, tf.tensor2d(whh, [4 * H, H]), lengths),
          tf.tensor2d(weights, [B, H]),
        ),
      );
    const gx = (await valueAndGrad(lossOfXp, xp, [B, T, 4 * H])).grad;
    const rx = await finiteDifferenceCheck((x) => evaluate(lossOfXp, x, [B, T, 4 * H]), xp, gx, {
      eps: 1e-2,
      coordinates: sampleCoordinates(xp.length, 60),
    });
    assert.ok(rx.worst < 2e-3, `LSTM d/dxp error ${rx.worst}`);
    // Steps past a sample's length get exactly zero gradient.
    for (let t = 2; t < T; t++)
      for (let k = 0; k < 4 * H; k++) assert.equal(gx[(1 * T + t) * 4 * H + k], 0);

    const lossOfW = (w: tf.Tensor): tf.Scalar =>
      tf.sum(
        tf.mul(
          lstmRecurrence(tf.tensor3d(xp, [B, T, 4 * H]), w as tf.Tensor2D, lengths),
          tf.tensor2d(weights, [B, H]),
        ),
      );
    const gw = (await valueAndGrad(lossOfW, whh, [4 * H, H])).grad;
    const rw = await finiteDifferenceCheck((w) => evaluate(lossOfW, w, [4 * H, H]), whh, gw, {
      eps: 1e-2,
      coordinates: sampleCoordinates(whh.length, 64),
    });
    assert.ok(rw.worst < 2e-3, `LSTM d/dW_hh error ${rw.worst}`);
  });

  it('CPC InfoNCE: gradient through the normalisation and logsumexp', async () => {
    const rng = new SeededRandom(5);
    const B = 6;
    const D = 5;
    const x = randn(B * D, rng);
    const pred = randn(B * D, rng);
    const loss = (p: tf.Tensor): tf.Scalar =>
      cpcNce(l2NormalizeRows(tf.tensor2d(x, [B, D])), l2NormalizeRows(p as tf.Tensor2D));
    const g = (await valueAndGrad(loss, pred, [B, D])).grad;
    const r = await finiteDifferenceCheck((p) => evaluate(loss, p, [B, D]), pred, g, {
      eps: 1e-2,
      coordinates: sampleCoordinates(pred.length, 30),
    });
    assert.ok(r.worst < 2e-3, `CPC gradient error ${r.worst}`);
  });
});
