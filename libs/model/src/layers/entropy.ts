/**
 * MMILB's entropy estimate: the batch is split by label sign (zeros in neither class), each class
 * is joined with the previous batch's (detached) projections, and
 * H = 0.25 * (logdet Σ_pos + logdet Σ_neg) with Σ the biased (1/N) covariance.
 *
 * Robustness: when either covariance is not positive definite (too few samples for the
 * dimension, collapsed projections), the pair's H is dropped for this step and counted, instead
 * of the NaN/-inf the reference produces. `jitter` > 0 adds a ridge to both covariances first.
 */
import * as tf from '@tensorflow/tfjs-core';
import { tryLogdet } from './logdet.js';

/** Detached projections of one class from the previous batch: rows x dim, row-major. */
export interface ClassRows {
  rows: number;
  data: Float32Array;
}

/** The one-batch memory of one MMILB pair (the reference's mem_pos_* / mem_neg_*). */
export interface EntropyMemory {
  pos: ClassRows;
  neg: ClassRows;
}

export interface EntropyResult {
  /** 0.25 (logdet Σ_pos + logdet Σ_neg), or null when skipped or there was no memory. */
  H: tf.Scalar | null;
  /** Why H was dropped, when it was computed but not usable. */
  skipReason: string | null;
  /** This batch's projections, detached: the next batch's memory. */
  next: EntropyMemory;
}

export function labelSignIndices(labels: ArrayLike<number>): { pos: Int32Array; neg: Int32Array } {
  const pos: number[] = [];
  const neg: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i] ?? 0;
    if (y > 0) pos.push(i);
    else if (y < 0) neg.push(i);
  }
  return { pos: Int32Array.from(pos), neg: Int32Array.from(neg) };
}

function pickRows(all: Float32Array, dim: number, idx: Int32Array): ClassRows {
  const data = new Float32Array(idx.length * dim);
  idx.forEach((r, i) => data.set(all.subarray(r * dim, (r + 1) * dim), i * dim));
  return { rows: idx.length, data };
}

/** Σ = mean((z - mean z)(z - mean z)^T) over history + current rows. */
export function classCovariance(
  current: tf.Tensor2D,
  history: ClassRows | null,
  jitter: number,
): tf.Tensor2D {
  const dim = current.shape[1] ?? 0;
  const all =
    history !== null && history.rows > 0
      ? tf.concat([tf.tensor2d(history.data, [history.rows, dim]), current], 0)
      : current;
  const n = all.shape[0] ?? 0;
  const centred = tf.sub(all, tf.mean(all, 0, true));
  const sigma = tf.div(tf.matMul(centred, centred, true, false), n) as tf.Tensor2D;
  return jitter > 0 ? tf.add(sigma, tf.mul(tf.eye(dim), jitter)) : sigma;
}

/**
 * Entropy of one pair. `z` is the projection of this batch (B, k). Without memory (the first
 * batch of a stage) H is null but the memory for the next batch is still returned.
 */
export function entropyTerm(
  z: tf.Tensor2D,
  labels: ArrayLike<number>,
  memory: EntropyMemory | null,
  jitter: number,
): EntropyResult {
  const dim = z.shape[1] ?? 0;
  const { pos, neg } = labelSignIndices(labels);
  const zData = z.dataSync() as Float32Array;
  const next: EntropyMemory = { pos: pickRows(zData, dim, pos), neg: pickRows(zData, dim, neg) };
  if (memory === null) return { H: null, skipReason: null, next };

  const posRows = tf.gather(z, pos) as tf.Tensor2D;
  const negRows = tf.gather(z, neg) as tf.Tensor2D;
  const ldPos = tryLogdet(classCovariance(posRows, memory.pos, jitter));
  const ldNeg = tryLogdet(classCovariance(negRows, memory.neg, jitter));
  if (!ldPos.ok || !ldNeg.ok) {
    const reason = !ldPos.ok
      ? `positive class: ${ldPos.reason}`
      : `negative class: ${ldNeg.ok ? '' : ldNeg.reason}`;
    return { H: null, skipReason: reason, next };
  }
  return { H: tf.mul(tf.add(ldPos.value, ldNeg.value), 0.25) as tf.Scalar, skipReason: null, next };
}
