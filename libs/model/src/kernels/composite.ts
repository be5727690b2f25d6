/**
 * The model's custom ops as compositions of standard TF.js ops, differentiated by TF.js itself:
 * for a backend with no kernel of ours (tfjs-node / tfjs-node-gpu, whose kernels are native
 * libtensorflow ones). Slower than a kernel (one small op per time step and column, so dispatch-
 * bound), but every value stays on the device and nothing is read back.
 *
 * Results equal the kernels' within float32 rounding (kernels/kernels.test.ts runs both on the
 * same backend).
 */
import * as tf from '@tensorflow/tfjs-core';
import { RELATIVE_PIVOT_FLOOR } from '../layers/cholesky.js';

/**
 * The masked LSTM recurrence: `xp` (B, T, 4h) with both biases, `whh` (4h, h); returns h at each
 * sample's last valid step (B, h). A step past a sample's length keeps its h and c unchanged, so
 * padding cannot leak; the gradient through the frozen steps is the identity, as it must be.
 */
export function compositeLstm(xp: tf.Tensor3D, whh: tf.Tensor2D, lengths: Int32Array): tf.Tensor2D {
  const [B = 0, T = 0, G = 0] = xp.shape;
  const Hd = G / 4;
  // As the kernels: each length clamped to [1, T] (the reference's collate raises 0 to 1).
  const clamped = Array.from(lengths, (n) => Math.min(T, Math.max(1, Math.floor(n))));
  const steps = clamped.reduce((m, n) => Math.max(m, n), 1);
  // mask[t] (B, 1): 1 where t < length.
  const maskData = new Float32Array(steps * B);
  for (let t = 0; t < steps; t++)
    for (let b = 0; b < B; b++) maskData[t * B + b] = t < (clamped[b] ?? 1) ? 1 : 0;
  const masks = tf.split(tf.tensor3d(maskData, [steps, B, 1]), steps, 0);
  const inputs = tf.unstack(tf.slice(xp, [0, 0, 0], [B, steps, G]), 1);
  let h: tf.Tensor2D = tf.zeros([B, Hd]);
  let c: tf.Tensor2D = tf.zeros([B, Hd]);
  for (let t = 0; t < steps; t++) {
    const pre = tf.add(inputs[t] as tf.Tensor2D, tf.matMul(h, whh, false, true));
    const [ai, af, ag, ao] = tf.split(pre, 4, 1) as [
      tf.Tensor2D,
      tf.Tensor2D,
      tf.Tensor2D,
      tf.Tensor2D,
    ];
    const cNew = tf.add(tf.mul(tf.sigmoid(af), c), tf.mul(tf.sigmoid(ai), tf.tanh(ag)));
    const hNew = tf.mul(tf.sigmoid(ao), tf.tanh(cNew));
    const m = tf.reshape(masks[t] as tf.Tensor, [B, 1]);
    // h + m (hNew - h): exactly hNew where m = 1, exactly h where m = 0.
    c = tf.add(c, tf.mul(m, tf.sub(cNew, c)));
    h = tf.add(h, tf.mul(m, tf.sub(hNew, h)));
  }
  return h;
}

/**
 * log det of a symmetric matrix by a Cholesky factorisation written as one small op chain per
 * column, with `ok` (1 or 0) computed on the device. When the matrix is not positive definite the
 * pivots are replaced by 1 before the square root, so every value (and every gradient) stays
 * finite, and the returned log det is 0.
 */
export function compositeSpdLogdet(raw: tf.Tensor2D): { logdet: tf.Scalar; ok: tf.Scalar } {
  const n = raw.shape[0] ?? 0;
  // Non-finite entries are zeroed and flagged first: a NaN left in the graph would reach the
  // gradient through ops whose backward multiplies by it (0 * NaN), masked or not.
  const entryFinite = tf.isFinite(raw);
  const a = tf.where(entryFinite, raw, tf.zerosLike(raw));
  const diagonal = tf.sum(tf.mul(a, tf.eye(n)), 1);
  const maxDiag = tf.max(tf.abs(diagonal));
  const floor = tf.mul(maxDiag, RELATIVE_PIVOT_FLOOR);
  let ok: tf.Tensor = tf.logicalAnd(tf.greater(maxDiag, 0), tf.all(entryFinite));
  const columns: tf.Tensor2D[] = []; // L[:, j] as (n, 1)
  const pivots: tf.Tensor[] = [];
  for (let j = 0; j < n; j++) {
    // v = A[:, j] - L[:, :j] L[j, :j]^T
    let v: tf.Tensor2D = tf.slice(a, [0, j], [n, 1]);
    if (j > 0) {
      const Lleft = tf.concat(columns, 1); // (n, j)
      const rowJ = tf.slice(Lleft, [j, 0], [1, j]); // (1, j)
      v = tf.sub(v, tf.matMul(Lleft, rowJ, false, true));
    }
    const d = tf.reshape(tf.slice(v, [j, 0], [1, 1]), []);
    const good = tf.logicalAnd(tf.greater(d, floor), tf.isFinite(d));
    ok = tf.logicalAnd(ok, good);
    const safe = tf.where(ok, d, tf.onesLike(d));
    const ljj = tf.sqrt(safe);
    pivots.push(ljj);
    // Rows above j are zero in column j of L; row j is ljj; below it v / ljj.
    const rowMask = tf.tensor2d(
      Array.from({ length: n }, (_, i) => (i >= j ? 1 : 0)),
      [n, 1],
    );
    columns.push(tf.mul(tf.div(v, ljj), rowMask));
  }
  const logdet = tf.mul(tf.sum(tf.log(tf.stack(pivots))), 2);
  const okFloat = tf.cast(ok, 'float32') as tf.Scalar;
  return { logdet: tf.where(ok, logdet, tf.zerosLike(logdet)) as tf.Scalar, ok: okFloat };
}
