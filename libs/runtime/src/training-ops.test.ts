/**
 * Forward and backward of the ops MMIM training uses, on wasm (with our fixes) against cpu.
 * A failure here means a kernel or gradient is missing or wrong on wasm: fix it in
 * src/kernels or src/gradients and list it in docs/runtime.md.
 */
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { assertSameOnBackends, prepareBackends, randomTensor } from './testing/backends.js';

type Loss = (x: tf.Tensor) => tf.Tensor;

const x34 = (): tf.Tensor => randomTensor([3, 4], 21);
const x2345 = (): tf.Tensor => randomTensor([2, 3, 4, 5], 22);

/** [name, input, scalar function of the input] */
const OPS: [string, () => tf.Tensor, Loss][] = [
  [
    'tanh, sigmoid, relu',
    x34,
    (x) => tf.sum(tf.add(tf.tanh(x), tf.mul(tf.sigmoid(x), tf.relu(x)))),
  ],
  ['erf (GELU)', x34, (x) => tf.sum(tf.mul(x, tf.add(1, tf.erf(tf.div(x, Math.SQRT2)))))],
  ['softmax', x34, (x) => tf.sum(tf.mul(tf.softmax(x), tf.range(0, 4)))],
  ['logSoftmax', x34, (x) => tf.sum(tf.mul(tf.logSoftmax(x), tf.range(0, 4)))],
  ['logSumExp', x34, (x) => tf.sum(tf.logSumExp(x, 1))],
  [
    'moments (layer norm)',
    x34,
    (x) => {
      const { mean, variance } = tf.moments(x, -1, true);
      return tf.sum(
        tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), tf.range(0, 4)),
      );
    },
  ],
  [
    'exp, log, abs, sqrt',
    x34,
    (x) => tf.sum(tf.add(tf.exp(x), tf.log(tf.add(tf.sqrt(tf.abs(x)), 1)))),
  ],
  [
    'mean, max, min',
    x34,
    (x) => tf.add(tf.mean(x), tf.add(tf.sum(tf.max(x, 0)), tf.sum(tf.min(x, 1)))),
  ],
  ['norm', x34, (x) => tf.norm(x)],
  ['clipByValue', x34, (x) => tf.sum(tf.clipByValue(tf.mul(x, 3), -1, 1))],
  ['where (mask)', x34, (x) => tf.sum(tf.where(tf.greater(x, 0), tf.square(x), tf.mul(x, 0.5)))],
  [
    'masks from comparisons',
    x34,
    (x) => {
      const m = tf.logicalAnd(tf.greaterEqual(x, -0.5), tf.logicalNot(tf.equal(x, 0)));
      return tf.sum(
        tf.mul(
          x,
          tf.cast(tf.logicalOr(m, tf.less(x, tf.cast(tf.lessEqual(x, 0.9), 'float32'))), 'float32'),
        ),
      );
    },
  ],
  [
    'concat, pad',
    x34,
    (x) =>
      tf.sum(
        tf.square(
          tf.pad(tf.concat([x, tf.mul(x, 2)], 1), [
            [1, 0],
            [0, 2],
          ]),
        ),
      ),
  ],
  [
    'tile, reshape',
    x34,
    (x) => tf.sum(tf.mul(tf.tile(tf.reshape(x, [2, 6]), [2, 1]), tf.range(0, 6))),
  ],
  [
    'stack, unstack',
    x34,
    (x) => tf.sum(tf.mul(tf.stack(tf.unstack(x, 1).reverse(), 1), tf.range(0, 4))),
  ],
  [
    'transpose rank 4 (attention)',
    x2345,
    (x) => tf.sum(tf.mul(tf.transpose(x, [0, 2, 1, 3]), tf.range(0, 5))),
  ],
  ['batched matMul (attention)', x2345, (x) => tf.sum(tf.softmax(tf.matMul(x, x, false, true)))],
  [
    'squaredDifference, maximum',
    x34,
    (x) => tf.sum(tf.add(tf.squaredDifference(x, 0.3), tf.maximum(x, 0.1))),
  ],
  [
    'softplus, elu, leakyRelu',
    x34,
    (x) => tf.sum(tf.add(tf.softplus(x), tf.add(tf.elu(x), tf.leakyRelu(x, 0.2)))),
  ],
  [
    'pow, reciprocal, rsqrt',
    x34,
    (x) =>
      tf.sum(
        tf.add(tf.pow(tf.abs(x), 1.5), tf.rsqrt(tf.add(tf.reciprocal(tf.add(tf.abs(x), 1)), 1))),
      ),
  ],
  ['cumsum', x34, (x) => tf.sum(tf.mul(tf.cumsum(x, 1), tf.range(0, 4)))],
  [
    'oneHot cross-entropy',
    x34,
    (x) => tf.neg(tf.sum(tf.mul(tf.oneHot(tf.tensor1d([1, 0, 3], 'int32'), 4), tf.logSoftmax(x)))),
  ],
  [
    'gather (embedding)',
    x34,
    (x) => tf.sum(tf.square(tf.gather(x, tf.tensor1d([2, 0, 2], 'int32')))),
  ],
  [
    'slice, split',
    x34,
    (x) => {
      const [p, q] = tf.split(x, 2, 1);
      return tf.sum(
        tf.mul(
          tf.slice(x, [1, 1], [2, 2]),
          tf.add(tf.slice(p!, [1, 0], [2, 2]), tf.slice(q!, [0, 0], [2, 2])),
        ),
      );
    },
  ],
  [
    'dropout-style mask',
    x34,
    (x) =>
      tf.sum(tf.mul(x, tf.cast(tf.greater(tf.reshape(tf.range(0, 12), [3, 4]), 5), 'float32'))),
  ],
];

describe('training ops on wasm match cpu (value and gradient)', () => {
  before(prepareBackends);

  for (const [name, makeInput, loss] of OPS) {
    it(name, async () => {
      await assertSameOnBackends(
        name,
        () => {
          const x = makeInput();
          const { value, grad } = tf.valueAndGrad(loss)(x);
          return [value, grad];
        },
        { rtol: 1e-3, atol: 1e-4 },
      );
    });
  }
});
