/**
 * MMILB's entropy estimate: the batch is split by label sign (zeros in neither class), each class
 * is joined with the previous batch's (detached) projections, and
 * H = 0.25 * (logdet Σ_pos + logdet Σ_neg) with Σ the biased (1/N) covariance.
 *
 * Robustness: when either covariance is not positive definite (too few samples for the
 * dimension, collapsed projections), the pair's H is dropped for this step and counted, instead
 * of the NaN/-inf the reference produces. The decision is made on the device: `ok` is a 0/1
 * scalar and H is 0 when it is 0, so the step never reads a tensor back to decide. `jitter` > 0
 * adds a ridge to both covariances first.
 */
import * as tf from '@tensorflow/tfjs-core';
import { spdLogdet } from './logdet.js';

/**
 * The one-batch memory of one MMILB pair (the reference's mem_pos_* / mem_neg_*): the previous
 * batch's projections of each class, (rows, dim). Tensors kept outside any tidy scope; whoever
 * replaces a memory disposes the old one (disposeMemory).
 */
export interface EntropyMemory {
  pos: tf.Tensor2D;
  neg: tf.Tensor2D;
}

export interface EntropyResult {
  /**
   * 0.25 (logdet Σ_pos + logdet Σ_neg) when both are positive definite, else 0; null when there
   * was no memory (the first batch of a stage).
   */
  H: tf.Scalar | null;
  /** 1 when H is usable, 0 when it was dropped; null when there was no memory. */
  ok: tf.Scalar | null;
  /** This batch's projections by class, kept (tf.keep) and detached: the next batch's memory. */
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

/** Rows `idx` of `z` (a constant copy: no gradient flows into a memory). */
function rowsOf(z: tf.Tensor2D, idx: Int32Array): tf.Tensor2D {
  const dim = z.shape[1] ?? 0;
  if (idx.length === 0) return tf.zeros([0, dim]);
  return tf.gather(z, tf.tensor1d(idx, 'int32')) as tf.Tensor2D;
}

/**
 * Σ = mean((z - mean z)(z - mean z)^T) over history + current rows, and whether every row was
 * finite (1 or 0). Non-finite entries are replaced by 0 before Σ is formed and the caller drops
 * the term when `finite` is 0: masking alone would not do, since the backward pass multiplies a
 * zero upstream gradient by the NaN rows (0 * NaN = NaN) and would poison every gradient.
 */
export function classCovariance(
  current: tf.Tensor2D,
  history: tf.Tensor2D | null,
  jitter: number,
): { sigma: tf.Tensor2D; finite: tf.Scalar } {
  const dim = current.shape[1] ?? 0;
  const raw =
    history !== null && (history.shape[0] ?? 0) > 0 ? tf.concat([history, current], 0) : current;
  const isFinite = tf.isFinite(raw);
  const all = tf.where(isFinite, raw, tf.zerosLike(raw));
  const finite = tf.cast(tf.all(isFinite), 'float32') as tf.Scalar;
  const n = all.shape[0] ?? 0;
  const centred = tf.sub(all, tf.mean(all, 0, true));
  const sigma = tf.div(tf.matMul(centred, centred, true, false), n) as tf.Tensor2D;
  return { sigma: jitter > 0 ? tf.add(sigma, tf.mul(tf.eye(dim), jitter)) : sigma, finite };
}

export function disposeMemory(memory: Partial<Record<string, EntropyMemory>>): void {
  for (const m of Object.values(memory)) if (m !== undefined) tf.dispose([m.pos, m.neg]);
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
  const { pos, neg } = labelSignIndices(labels);
  const zPos = rowsOf(z, pos);
  const zNeg = rowsOf(z, neg);
  // This batch's rows by class are the next batch's memory, kept past the step's scopes; next
  // step they enter as constants (a new tape): no gradient flows into a memory.
  const next: EntropyMemory = { pos: tf.keep(zPos), neg: tf.keep(zNeg) };
  if (memory === null) return { H: null, ok: null, next };
  const covPos = classCovariance(zPos, memory.pos, jitter);
  const covNeg = classCovariance(zNeg, memory.neg, jitter);
  const ldPos = spdLogdet(covPos.sigma);
  const ldNeg = spdLogdet(covNeg.sigma);
  const ok = tf.mul(tf.mul(ldPos.ok, ldNeg.ok), tf.mul(covPos.finite, covNeg.finite)) as tf.Scalar;
  const H = tf.mul(tf.mul(tf.add(ldPos.logdet, ldNeg.logdet), 0.25), ok) as tf.Scalar;
  return { H, ok, next };
}

/** One step's entropy over the MMILB pairs, as the loss and the report use it. */
export interface StepEntropy {
  /** Sum of the pairs' H, or 0 when any pair was dropped (then H is out of the loss). */
  H: tf.Scalar;
  /** 1 when every pair's H was usable. */
  ok: tf.Scalar;
  /** How many pairs were dropped. */
  skipped: tf.Scalar;
}

/**
 * Combines the pairs' results (null when none had a memory, i.e. the first batch of a stage).
 * A pair whose entropy was dropped leaves H out of the step's loss altogether: the sum is masked
 * by every pair's flag, on the device.
 */
export function combinePairEntropies(results: readonly EntropyResult[]): StepEntropy | null {
  let sum: tf.Scalar | null = null;
  let ok: tf.Scalar | null = null;
  let skipped: tf.Scalar | null = null;
  for (const r of results) {
    if (r.H === null || r.ok === null) continue;
    sum = sum === null ? r.H : (tf.add(sum, r.H) as tf.Scalar);
    ok = ok === null ? r.ok : (tf.mul(ok, r.ok) as tf.Scalar);
    const dropped = tf.sub(1, r.ok) as tf.Scalar;
    skipped = skipped === null ? dropped : (tf.add(skipped, dropped) as tf.Scalar);
  }
  if (sum === null || ok === null || skipped === null) return null;
  return { H: tf.mul(sum, ok) as tf.Scalar, ok, skipped };
}
