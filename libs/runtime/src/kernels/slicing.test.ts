import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  assertSameOnBackends,
  prepareBackends,
  randomTensor,
  useBackend,
} from '../testing/backends.js';
import { copyRegion } from './copy-region.js';

describe('Slice on wasm matches cpu', () => {
  before(prepareBackends);

  const CASES: [number[], number[], number[]][] = [
    [[10], [3], [4]],
    [
      [6, 5],
      [2, 1],
      [3, 3],
    ],
    [
      [6, 5],
      [0, 0],
      [6, 5],
    ], // whole tensor
    [
      [6, 5],
      [5, 4],
      [1, 1],
    ], // one element
    [
      [6, 5],
      [2, 0],
      [-1, -1],
    ], // size -1 = to the end
    [
      [4, 3, 40],
      [1, 0, 0],
      [1, 3, 40],
    ], // contiguous step
    [
      [4, 3, 40],
      [0, 1, 0],
      [4, 1, 40],
    ], // strided step
    [
      [2, 3, 4, 5],
      [1, 1, 1, 1],
      [1, 2, 2, 3],
    ],
    [
      [2, 3, 2, 3, 4],
      [0, 1, 1, 0, 2],
      [2, 2, 1, 3, 2],
    ], // rank 5
    [
      [3, 0, 2],
      [1, 0, 0],
      [1, 0, 2],
    ], // empty
  ];
  for (const [shape, begin, size] of CASES) {
    const label = `[${shape}] begin [${begin}] size [${size}]`;
    it(label, async () => {
      await assertSameOnBackends(label, () => tf.slice(randomTensor(shape, 5), begin, size));
    });
  }

  it('slices int32 and bool tensors', async () => {
    await assertSameOnBackends('int32', () =>
      tf.slice(tf.reshape(tf.range(0, 24, 1, 'int32'), [2, 3, 4]), [0, 1, 1], [2, 2, 2]),
    );
    await assertSameOnBackends('bool', () =>
      tf.slice(
        tf.tensor2d([true, false, true, true, false, false], [3, 2], 'bool'),
        [1, 0],
        [2, 2],
      ),
    );
  });

  it('gradient through slice', async () => {
    await assertSameOnBackends('grad', () =>
      tf.grad((x: tf.Tensor) => tf.sum(tf.square(tf.slice(x, [1, 0, 2], [2, 3, 3]))))(
        randomTensor([4, 3, 6], 9),
      ),
    );
  });
});

describe('Unpack (unstack) on wasm matches cpu', () => {
  before(prepareBackends);

  const CASES: [number[], number][] = [
    [[5, 3, 4], 0],
    [[5, 3, 4], 1],
    [[5, 3, 4], 2],
    [[5, 3, 4], -1],
    [[1, 7], 0],
    [[7], 0],
  ];
  for (const [shape, axis] of CASES) {
    const label = `[${shape}] axis ${axis}`;
    it(label, async () => {
      await assertSameOnBackends(label, () => tf.unstack(randomTensor(shape, 3), axis));
    });
  }

  it('gradient through unstack', async () => {
    await assertSameOnBackends('grad', () =>
      tf.grad((x: tf.Tensor) => {
        const steps = tf.unstack(x, 1);
        return tf.sum(tf.mul(steps[0]!, steps[2]!));
      })(randomTensor([3, 4, 5], 4)),
    );
  });
});

describe('SplitV (split) on wasm matches cpu', () => {
  before(prepareBackends);

  const CASES: [number[], number | number[], number][] = [
    [[4, 12], 4, 1],
    [[6, 5], [1, 2, 3], 0],
    [[2, 9, 3], [2, -1, 3], 1],
    [[3, 4], 1, 0],
  ];
  for (const [shape, splits, axis] of CASES) {
    const label = `[${shape}] splits ${JSON.stringify(splits)} axis ${axis}`;
    it(label, async () => {
      await assertSameOnBackends(label, () => tf.split(randomTensor(shape, 8), splits, axis));
    });
  }

  it('gradient through split', async () => {
    await assertSameOnBackends('grad', () =>
      tf.grad((x: tf.Tensor) => {
        const [i, f, o, g] = tf.split(x, 4, 1);
        return tf.sum(tf.add(tf.mul(tf.sigmoid(i!), tf.tanh(g!)), tf.mul(f!, o!)));
      })(randomTensor([3, 8], 6)),
    );
  });
});

describe('copyRegion', () => {
  it('copies a strided region of a rank-3 array', () => {
    const src = Float32Array.from({ length: 24 }, (_, i) => i); // shape [2, 3, 4]
    const dst = new Float32Array(4);
    copyRegion(src, [2, 3, 4], [1, 1, 2], [1, 2, 2], dst);
    assert.deepEqual(Array.from(dst), [18, 19, 22, 23]);
  });

  it('writes at the given offset and leaves the rest alone', () => {
    const src = Float32Array.from({ length: 6 }, (_, i) => i); // shape [2, 3]
    const dst = new Float32Array(5).fill(-1);
    copyRegion(src, [2, 3], [0, 1], [2, 1], dst, 2);
    assert.deepEqual(Array.from(dst), [-1, -1, 1, 4, -1]);
  });

  it('uses the bulk path for long runs', () => {
    const src = Float32Array.from({ length: 200 }, (_, i) => i); // shape [2, 100]
    const dst = new Float32Array(100);
    copyRegion(src, [2, 100], [1, 0], [1, 100], dst);
    assert.equal(dst[0], 100);
    assert.equal(dst[99], 199);
  });
});

describe('slicing kernels are ours', () => {
  before(prepareBackends);
  it('registers replacements for Slice, Unpack and SplitV on wasm', async () => {
    await useBackend('wasm');
    for (const name of ['Slice', 'Unpack', 'SplitV']) {
      const fn = tf.getKernel(name, 'wasm').kernelFunc.name;
      assert.match(fn, /^(slice|unpack|splitV)$/, `${name} kernel is ${fn}`);
    }
  });
});
