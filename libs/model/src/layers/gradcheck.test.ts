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

/** Scalar value and gradient of f at x (a tensor of `shape`). */
function valueAndGrad(
  f: (x: tf.Tensor) => tf.Scalar,
  x: Float32Array,
  shape: number[],
): { value: number; grad: Float32Array } {
  return tf.tidy(() => {
    const { value, grad } = tf.valueAndGrad(f)(tf.tensor(x, shape));
    return {
      value: value.dataSync()[0] ?? NaN,
      grad: Float32Array.from(grad.dataSync() as Float32Array),
    };
  });
}

function evaluate(f: (x: tf.Tensor) => tf.Scalar, x: Float32Array, shape: number[]): number {
  return tf.tidy(() => f(tf.tensor(x, shape)).dataSync()[0] ?? NaN);
}

describe('finite-difference gradient checks', () => {
  before(async () => {
    await initBackend({ backend: process.env.MMIM_TEST_BACKEND === 'cpu' ? 'cpu' : 'wasm' });
  });

  it('logdet of an SPD matrix: value matches the eigen-free 2x2 formula and the gradient is A^-T', () => {
    const two = spdLogdet(tf.tensor2d([4, 1, 1, 3], [2, 2]));
    assert.equal(two.ok.dataSync()[0], 1);
    assert.ok(Math.abs((two.logdet.dataSync()[0] ?? NaN) - Math.log(11)) < 1e-6);
    const rng = new SeededRandom(3);
    const n = 6;
    const m = randn(n * 10, rng);
    // A = M^T M / 10 + 0.1 I: symmetric positive definite.
    const a = tf.tidy(() => {
      const mt = tf.tensor2d(m, [10, n]);
      return tf
        .add(tf.div(tf.matMul(mt, mt, true, false), 10), tf.mul(tf.eye(n), 0.1))
        .dataSync() as Float32Array;
    });
    const f = (x: tf.Tensor): tf.Scalar => spdLogdet(x as tf.Tensor2D).logdet;
    const { grad } = valueAndGrad(f, Float32Array.from(a), [n, n]);
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
      const at = (s: number): number => {
        const x = Float32Array.from(a);
        x[i * n + j] = (x[i * n + j] ?? 0) + s * eps;
        if (i !== j) x[j * n + i] = (x[j * n + i] ?? 0) + s * eps;
        return evaluate(f, x, [n, n]);
      };
      const numeric = (at(1) - at(-1)) / (2 * eps);
      const analytic =
        i === j ? (grad[i * n + j] ?? 0) : (grad[i * n + j] ?? 0) + (grad[j * n + i] ?? 0);
      worst = Math.max(worst, Math.abs(numeric - analytic) / Math.max(Math.abs(analytic), 1));
    }
    assert.ok(worst < 2e-3, `logdet gradient error ${worst}`);
  });

  it('logdet refuses singular and indefinite matrices: ok 0, log det 0, zero gradient, no NaN', () => {
    for (const m of [
      [1, 2, 2, 4],
      [1, 0, 0, -1],
      [NaN, 0, 0, 1],
    ]) {
      const { value, grad } = tf.tidy(() => {
        const g = tf.valueAndGrad((x: tf.Tensor) => {
          const r = spdLogdet(x as tf.Tensor2D);
          assert.equal(r.ok.dataSync()[0], 0, `ok for [${m}]`);
          return r.logdet;
        })(tf.tensor2d(m, [2, 2]));
        return { value: g.value.dataSync()[0], grad: Array.from(g.grad.dataSync()) };
      });
      assert.equal(value, 0, `log det of [${m}]`);
      assert.deepEqual(grad, [0, 0, 0, 0], `gradient of [${m}]`);
    }
  });

  it('LSTM recurrence: d/d(input projection) and d/d(W_hh), with ragged lengths', () => {
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
    const gx = valueAndGrad(lossOfXp, xp, [B, T, 4 * H]).grad;
    const rx = finiteDifferenceCheck((x) => evaluate(lossOfXp, x, [B, T, 4 * H]), xp, gx, {
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
    const gw = valueAndGrad(lossOfW, whh, [4 * H, H]).grad;
    const rw = finiteDifferenceCheck((w) => evaluate(lossOfW, w, [4 * H, H]), whh, gw, {
      eps: 1e-2,
      coordinates: sampleCoordinates(whh.length, 64),
    });
    assert.ok(rw.worst < 2e-3, `LSTM d/dW_hh error ${rw.worst}`);
  });

  it('CPC InfoNCE: gradient through the normalisation and logsumexp', () => {
    const rng = new SeededRandom(5);
    const B = 6;
    const D = 5;
    const x = randn(B * D, rng);
    const pred = randn(B * D, rng);
    const loss = (p: tf.Tensor): tf.Scalar =>
      cpcNce(l2NormalizeRows(tf.tensor2d(x, [B, D])), l2NormalizeRows(p as tf.Tensor2D));
    const g = valueAndGrad(loss, pred, [B, D]).grad;
    const r = finiteDifferenceCheck((p) => evaluate(loss, p, [B, D]), pred, g, {
      eps: 1e-2,
      coordinates: sampleCoordinates(pred.length, 30),
    });
    assert.ok(r.worst < 2e-3, `CPC gradient error ${r.worst}`);
  });
});
