import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  assertCloseSnapshots,
  assertSameOnBackends,
  prepareBackends,
  randomTensor,
  runOn,
} from '../testing/backends.js';

/** [a shape, b shape, transposeA, transposeB] with broadcast batch dims. */
type Case = [number[], number[], boolean, boolean];

const CASES: Case[] = [
  [[3, 5, 7], [7, 4], false, false], // dense layer on a rank-3 input
  [[3, 5, 7], [4, 7], false, true],
  [[3, 7, 5], [7, 4], true, false],
  [[5, 7], [3, 7, 4], false, false],
  [[7, 5], [3, 4, 7], true, true],
  [[3, 5, 7], [1, 7, 4], false, false],
];

/** Both batches broadcast: tfjs-backend-cpu's forward BatchMatMul is wrong here (NaNs). */
const BOTH_BROADCAST: Case = [[2, 1, 5, 7], [3, 4, 7], false, true];

/** The same product with every broadcast made explicit by tf.tile (whose gradient sums). */
function tiledMatMul(a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean): tf.Tensor {
  const batch = tf.broadcast_util.assertAndGetBroadcastShape(
    a.shape.slice(0, -2),
    b.shape.slice(0, -2),
  );
  const expand = (t: tf.Tensor): tf.Tensor => {
    const shape = [...batch, ...t.shape.slice(-2)];
    const padded = tf.reshape(t, [...new Array<number>(shape.length - t.rank).fill(1), ...t.shape]);
    return tf.tile(
      padded,
      shape.map((s, i) => s / padded.shape[i]!),
    );
  };
  return tf.matMul(expand(a), expand(b), ta, tb);
}

function gradients(
  [aShape, bShape, ta, tb]: Case,
  product: (a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean) => tf.Tensor,
): () => tf.Tensor[] {
  return () =>
    tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.sin(product(a, b, ta, tb))))([
      randomTensor(aShape, 1),
      randomTensor(bShape, 2),
    ]);
}

describe('BatchMatMul gradient with broadcast batch dims', () => {
  before(prepareBackends);

  for (const c of CASES) {
    const [aShape, bShape, ta, tb] = c;
    const label = `[${aShape}] x [${bShape}] transposeA=${ta} transposeB=${tb}`;
    const grads = (product: typeof tiledMatMul) => gradients(c, product);

    it(`${label}: equals the explicitly tiled product's gradient`, async () => {
      const want = await runOn('cpu', grads(tiledMatMul));
      const got = await runOn('cpu', grads(tf.matMul));
      assert.deepEqual(
        got.map((s) => s.shape),
        [aShape, bShape],
      );
      assertCloseSnapshots(got, want, label);
    });

    it(`${label}: same on wasm as on cpu`, async () => {
      await assertSameOnBackends(label, grads(tf.matMul));
    });
  }

  it('both batches broadcast: equals the tiled gradient on wasm', async () => {
    const want = await runOn('wasm', gradients(BOTH_BROADCAST, tiledMatMul));
    const got = await runOn('wasm', gradients(BOTH_BROADCAST, tf.matMul));
    assert.deepEqual(
      got.map((s) => s.shape),
      [BOTH_BROADCAST[0], BOTH_BROADCAST[1]],
    );
    assertCloseSnapshots(got, want, 'both broadcast');
  });
});
