/**
 * The word embedding's lookup is nn.Embedding(padding_idx): the forward is a plain row gather,
 * the padding row's gradient is zero, every other row's is the gather's. Attention hides padded
 * positions, so the parity runs never send the padding row a gradient; this checks the rule where
 * it matters, the padding token at an attended position.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@mmim/runtime';
import { paddedEmbedding } from './bert.js';

describe('padded embedding lookup', () => {
  before(async () => {
    await initBackend({ backend: process.env.MMIM_TEST_BACKEND === 'cpu' ? 'cpu' : 'wasm' });
  });

  it('forward is the gather; the padding row gets no gradient, the others the gather gradient', async () => {
    const V = 5;
    const H = 3;
    const pad = 2;
    const table = tf.tensor2d(
      Float32Array.from({ length: V * H }, (_, k) => k / 7 - 1),
      [V, H],
    );
    const ids = tf.tensor1d([pad, 4, 0, pad, 4, 1], 'int32');
    const upstream = tf.tensor2d(
      Float32Array.from({ length: 6 * H }, (_, k) => Math.sin(k + 1)),
      [6, H],
    );
    const loss = (lookup: (w: tf.Tensor) => tf.Tensor) => (w: tf.Tensor) =>
      tf.sum(tf.mul(lookup(w), upstream)) as tf.Scalar;
    const padded = tf.grad(loss((w) => paddedEmbedding(w, ids, pad)))(table);
    const plain = tf.grad(loss((w) => tf.gather(w, ids)))(table);
    const forward = paddedEmbedding(table, ids, pad);
    const gathered = tf.gather(table, ids);
    const [p, q, f, g] = await Promise.all([padded, plain, forward, gathered].map((t) => t.data()));
    tf.dispose([table, ids, upstream, padded, plain, forward, gathered]);
    assert.deepEqual(Array.from(f ?? []), Array.from(g ?? []));
    for (let row = 0; row < V; row++) {
      const got = Array.from(p?.subarray(row * H, (row + 1) * H) ?? []);
      const gatherGrad = Array.from(q?.subarray(row * H, (row + 1) * H) ?? []);
      if (row === pad) {
        assert.deepEqual(got, [0, 0, 0], 'padding row');
        assert.ok(
          gatherGrad.some((x) => x !== 0),
          'the plain gather does send the row a gradient',
        );
      } else assert.deepEqual(got, gatherGrad, `row ${row}`);
    }
  });
});
