import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  assertSameOnBackends,
  prepareBackends,
  randomTensor,
  useBackend,
} from '../testing/backends.js';

/** [x shape, segment ids (shape = leading dims of x), numSegments] */
type Case = [number[], number[][] | number[], number];

const CASES: Case[] = [
  [[6], [0, 1, 0, 2, 2, 2], 3],
  [[5, 4], [3, 0, 3, 1, 0], 4], // segment 2 empty
  [[4, 3, 2], [1, 1, 1, 1], 2], // everything in one segment
  [[1, 1], [0], 1],
  [[6, 3], [0, -1, 2, 5, 1, 1], 3], // out-of-range ids are dropped
];

describe('UnsortedSegmentSum on wasm matches cpu', () => {
  before(prepareBackends);

  for (const [shape, ids, numSegments] of CASES) {
    const label = `x [${shape}] ids ${JSON.stringify(ids)} numSegments ${numSegments}`;
    it(label, async () => {
      await assertSameOnBackends(label, () =>
        tf.unsortedSegmentSum(
          randomTensor(shape, 7),
          tf.tensor(ids, undefined, 'int32'),
          numSegments,
        ),
      );
    });
  }

  it('takes rank-2 segment ids (vs a float64 reference: the cpu kernel throws on them)', async () => {
    await useBackend('wasm');
    const x = randomTensor([2, 3, 4], 7);
    const ids = [0, 1, 2, 2, 1, 0];
    // tfjs types segmentIds as 1-D, but the op (like TensorFlow's) takes any leading shape of x.
    const ids2d = tf.tensor2d(ids, [2, 3], 'int32') as unknown as tf.Tensor1D;
    const got = tf.unsortedSegmentSum(x, ids2d, 3);
    assert.deepEqual(got.shape, [3, 4]);
    const xv = x.dataSync();
    const want = new Float64Array(12);
    ids.forEach((s, i) => {
      for (let j = 0; j < 4; j++) want[s * 4 + j]! += xv[i * 4 + j]!;
    });
    const values = got.dataSync();
    want.forEach((w, i) => assert.ok(Math.abs(values[i]! - w) < 1e-6, `element ${i}`));
    tf.dispose([x, ids2d, got]);
  });

  it('keeps int32 values int32 (the cpu kernel returns float32 here)', async () => {
    await useBackend('wasm');
    const out = tf.unsortedSegmentSum(
      tf.tensor1d([1, 2, 3, 4], 'int32'),
      tf.tensor1d([1, 0, 1, 1], 'int32'),
      2,
    );
    assert.equal(out.dtype, 'int32');
    assert.deepEqual(Array.from(out.dataSync()), [2, 8]);
    out.dispose();
  });
});

describe('gradient of gather (embedding lookup) on wasm matches cpu', () => {
  before(prepareBackends);

  const GATHER_CASES: [number[], number[], number][] = [
    [[10, 4], [3, 3, 0, 9, 3], 0], // repeated ids accumulate
    [[5, 6, 3], [4, 0], 1], // gather along an inner axis
    [[7, 1], [6], 0],
  ];
  for (const [shape, indices, axis] of GATHER_CASES) {
    const label = `params [${shape}] indices [${indices}] axis ${axis}`;
    it(label, async () => {
      await assertSameOnBackends(label, () => {
        const weights = randomTensor(shape, 11);
        const loss = (w: tf.Tensor): tf.Tensor =>
          tf.sum(tf.square(tf.gather(w, tf.tensor1d(indices, 'int32'), axis)));
        return tf.grad(loss)(weights);
      });
    });
  }
});
