import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  assertSameOnBackends,
  prepareBackends,
  randomTensor,
  useBackend,
} from '../testing/backends.js';
import { broadcastSourceIndices } from './batch-mat-mul.js';

/** [a shape, b shape, transposeA, transposeB] */
type Case = [number[], number[], boolean, boolean];

const CASES: Case[] = [
  [[5, 7], [7, 3], false, false],
  [[7, 5], [7, 3], true, false],
  [[5, 7], [3, 7], false, true],
  [[7, 5], [3, 7], true, true],
  [[1, 1], [1, 1], false, false],
  [[1, 4], [4, 1], false, false],
  [[4, 1], [4, 1], true, false], // dot product via transposeA
  [[1, 6], [1, 6], false, true], // dot product via transposeB
  [[3, 5, 7], [3, 7, 4], false, false], // batched
  [[3, 7, 5], [3, 4, 7], true, true],
  [[3, 5, 7], [7, 4], false, false], // b broadcast (rank 2)
  [[3, 7, 5], [1, 4, 7], true, true], // b broadcast (batch 1)
  [[5, 7], [3, 7, 4], false, false], // a broadcast (rank 2)
  [[1, 7, 5], [3, 7, 4], true, false], // a broadcast (batch 1)
  [[2, 3, 5, 7], [3, 4, 7], false, true], // rank 4 x rank 3
  [[5, 0], [0, 4], false, false], // empty contraction: zeros
  [[64, 50, 32], [64, 50, 32], false, true], // attention scores
];

describe('BatchMatMul on wasm matches cpu', () => {
  before(prepareBackends);

  for (const [aShape, bShape, ta, tb] of CASES) {
    const label = `[${aShape}] x [${bShape}] transposeA=${ta} transposeB=${tb}`;
    it(label, async () => {
      await assertSameOnBackends(label, () =>
        tf.matMul(randomTensor(aShape, 1), randomTensor(bShape, 2), ta, tb),
      );
    });
  }

  // tfjs-backend-cpu 4.22 gets these wrong (NaN when both batches broadcast, 20 values for an
  // empty [0, 5, 4] result), so they are checked against a plain float64 reference instead.
  const CPU_BROKEN: Case[] = [
    [[2, 1, 5, 7], [1, 3, 7, 4], false, false],
    [[2, 2, 3, 8, 6], [2, 1, 3, 6, 8], true, true],
    [[0, 5, 7], [7, 4], false, false],
  ];
  for (const [aShape, bShape, ta, tb] of CPU_BROKEN) {
    it(`[${aShape}] x [${bShape}] transposeA=${ta} transposeB=${tb} (vs float64 reference)`, async () => {
      await useBackend('wasm');
      const a = randomTensor(aShape, 1);
      const b = randomTensor(bShape, 2);
      const got = tf.matMul(a, b, ta, tb);
      const want = referenceMatMul(a, b, ta, tb);
      assert.deepEqual(got.shape, want.shape);
      const values = got.dataSync();
      assert.equal(values.length, want.values.length);
      want.values.forEach((w, i) => assert.ok(Math.abs(values[i]! - w) < 1e-5, `element ${i}`));
      tf.dispose([a, b, got]);
    });
  }

  it('rejects mismatched inner dimensions like tf.matMul', async () => {
    await useBackend('wasm');
    assert.throws(
      () => tf.matMul(tf.zeros([2, 3]), tf.zeros([4, 2])),
      /inner shapes \(3\) and \(4\)/,
    );
  });

  it('does not reuse XNNPACK weights across batch items', async () => {
    // Regression: b items share no tensor id, so each item must see its own weights.
    await useBackend('wasm');
    const a = tf.ones([3, 1, 2]);
    const b = tf.tensor3d([1, 1, 2, 2, 3, 3], [3, 2, 1]);
    assert.deepEqual(Array.from(tf.matMul(a, b).dataSync()), [2, 4, 6]);
  });
});

describe('gradients through BatchMatMul', () => {
  before(prepareBackends);

  const GRAD_CASES: Case[] = [
    [[6, 5], [5, 4], false, false],
    [[5, 6], [4, 5], true, true],
    [[3, 6, 5], [3, 5, 4], false, false],
    [[2, 3, 5, 6], [2, 3, 4, 5], true, true],
  ];
  for (const [aShape, bShape, ta, tb] of GRAD_CASES) {
    const label = `grad [${aShape}] x [${bShape}] transposeA=${ta} transposeB=${tb}`;
    it(label, async () => {
      await assertSameOnBackends(label, () => {
        const f = (a: tf.Tensor, b: tf.Tensor): tf.Tensor =>
          tf.sum(tf.tanh(tf.matMul(a, b, ta, tb)));
        return tf.grads(f)([randomTensor(aShape, 3), randomTensor(bShape, 4)]);
      });
    });
  }
});

/** tf.matMul semantics in float64 with explicit loops, independent of any backend kernel. */
function referenceMatMul(
  a: tf.Tensor,
  b: tf.Tensor,
  ta: boolean,
  tb: boolean,
): { shape: number[]; values: number[] } {
  const av = a.dataSync();
  const bv = b.dataSync();
  const [ar, br] = [a.rank, b.rank];
  const m = a.shape[ta ? ar - 1 : ar - 2]!;
  const k = a.shape[ta ? ar - 2 : ar - 1]!;
  const n = b.shape[tb ? br - 2 : br - 1]!;
  const batch = tf.broadcast_util.assertAndGetBroadcastShape(
    a.shape.slice(0, -2),
    b.shape.slice(0, -2),
  );
  const aIdx = broadcastSourceIndices(batch, a.shape.slice(0, -2));
  const bIdx = broadcastSourceIndices(batch, b.shape.slice(0, -2));
  const values: number[] = [];
  for (let i = 0; i < tf.util.sizeFromShape(batch); i++) {
    const ao = aIdx[i]! * m * k;
    const bo = bIdx[i]! * k * n;
    for (let r = 0; r < m; r++) {
      for (let c = 0; c < n; c++) {
        let s = 0;
        for (let j = 0; j < k; j++) {
          s += av[ao + (ta ? j * m + r : r * k + j)]! * bv[bo + (tb ? c * k + j : j * n + c)]!;
        }
        values.push(s);
      }
    }
  }
  return { shape: [...batch, m, n], values };
}

describe('broadcastSourceIndices', () => {
  it('maps broadcast batch dims to source items', () => {
    assert.deepEqual(Array.from(broadcastSourceIndices([2, 3], [1, 3])), [0, 1, 2, 0, 1, 2]);
    assert.deepEqual(Array.from(broadcastSourceIndices([2, 3], [2, 1])), [0, 0, 0, 1, 1, 1]);
    assert.deepEqual(Array.from(broadcastSourceIndices([2, 3], [3])), [0, 1, 2, 0, 1, 2]);
    assert.deepEqual(Array.from(broadcastSourceIndices([2, 3], [])), [0, 0, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(broadcastSourceIndices([], [])), [0]);
  });
});
