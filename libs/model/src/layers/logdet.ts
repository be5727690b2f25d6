/**
 * log det of a symmetric positive-definite matrix, with its gradient (A^-T), for the MMILB
 * entropy term. TF.js has no logdet, cholesky or inverse kernels.
 *
 * The reference's torch.logdet returns NaN or -inf for a singular or indefinite covariance (a
 * class with fewer samples than dimensions, collapsed projections), which then poisons the
 * weights. Here a matrix that Cholesky cannot factor (or whose pivots underflow) is reported as
 * not positive definite: `ok` is 0 and the log det is 0, decided on the device (no read-back), so
 * the caller masks the term out of the loss and counts it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { compositeSpdLogdet } from '../kernels/composite.js';
import { backendProfile, registerModelKernels } from '../kernels/registry.js';
import { SPD_LOGDET } from '../kernels/spd-logdet.js';

export { cholesky, inverseFromCholesky, type CholeskyResult } from './cholesky.js';

export interface SpdLogdet {
  /** log det A when positive definite, else 0 (finite either way, gradients included). */
  logdet: tf.Scalar;
  /** 1 when A is positive definite, else 0. */
  ok: tf.Scalar;
}

/** Differentiable log det of `a` (n x n) with the positive-definiteness decided on the device. */
export function spdLogdet(a: tf.Tensor2D): SpdLogdet {
  const [n = 0, m = 0] = a.shape;
  if (n !== m) throw new Error(`logdet: matrix must be square, got [${a.shape}]`);
  if (n === 0) return { logdet: tf.scalar(0), ok: tf.scalar(0) };
  if (backendProfile().logdet === 'composite') return compositeSpdLogdet(a);
  registerModelKernels();
  const packed = tf.engine().runKernel(SPD_LOGDET, { a }) as tf.Tensor1D;
  return {
    logdet: tf.reshape(tf.slice(packed, [n * n], [1]), []) as tf.Scalar,
    ok: tf.reshape(tf.slice(packed, [n * n + 1], [1]), []) as tf.Scalar,
  };
}
