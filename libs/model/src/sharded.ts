/**
 * Exact synchronous data parallelism for MMIM's batch-coupled loss.
 *
 * Rank r of K holds rows [offset, offset + B_r) of a global batch of B rows. Most of MMIM's loss
 * is a mean over samples (L1, lld): rank r's share is its rows' sum divided by B. CPC's negatives
 * (logsumexp over the batch) and the entropy covariances couple samples. For those, each rank
 * (1) computes its rows' normalised CPC vectors and entropy projections without a tape, (2) all
 * ranks exchange them (all-gather: a few KB per sample), and (3) each rank recomputes its rows
 * with a tape and evaluates the GLOBAL coupled terms with the other ranks' rows as constants.
 * The gradient of that function w.r.t. its own rows is exactly the global loss's, so the SUM of
 * the ranks' parameter gradients is the single-worker gradient of the whole batch. Step (3)
 * repeats the forward (same dropout masks: they are keyed by global sample index), the price of
 * exactness without shipping activations.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MmimBatch } from './batch.js';
import type { DropoutContext } from './layers/basic.js';
import {
  combinePairEntropies,
  entropyTerm,
  type EntropyMemory,
  type EntropyResult,
} from './layers/entropy.js';
import { cpcNce } from './layers/heads.js';
import type { MmimModel, PairName } from './model.js';
import type { ParamName } from './params.js';
import type { OwnedGradients, StepReport, StepperSharding, TwoStageStepper } from './stepper.js';

export type Modality = 't' | 'v' | 'a';
const MODALITIES: readonly Modality[] = ['t', 'v', 'a'];

/** A rank's share of one global batch. */
export interface RankShare {
  /** This rank's rows (its `sampleIndex` are global sample keys). */
  batch: MmimBatch;
  /** Position of its first row in the global batch. */
  offset: number;
  /** Rows in the global batch (the denominator of every mean). */
  globalSize: number;
}

/** What couples samples, for a contiguous run of rows (row-major), plus the decomposable sums. */
export interface CouplingRows {
  rows: number;
  cpc: Record<Modality, { x: Float32Array; pred: Float32Array; dim: number }>;
  /** Entropy projections (stage 1 with contrast). */
  z: Partial<Record<PairName, { data: Float32Array; dim: number }>>;
  labels: Float32Array;
  /** Sums over these rows of the per-sample L1 and lld (for the global loss value). */
  l1Sum: number;
  lldSum: number;
}

/**
 * Reads several tensors with ONE asynchronous read (they are flattened and concatenated on the
 * device first) and returns them in the same order, as views of that one host copy (no second
 * copy per tensor; readers honour byteOffset). Disposes nothing.
 */
export async function readTensors(tensors: readonly tf.Tensor[]): Promise<Float32Array[]> {
  if (tensors.length === 0) return [];
  const flat = tf.tidy(() =>
    tf.concat(tensors.map((t) => tf.reshape(tf.cast(t, 'float32'), [-1]))),
  );
  const data = (await flat.data()) as Float32Array;
  flat.dispose();
  const out: Float32Array[] = [];
  let at = 0;
  for (const t of tensors) {
    out.push(data.subarray(at, at + t.size));
    at += t.size;
  }
  return out;
}

/** Phase 1: this rank's coupling rows (no tape), read back with one asynchronous read. */
export async function couplingRows(
  model: MmimModel,
  share: RankShare,
  drop: DropoutContext,
  withProjections: boolean,
): Promise<CouplingRows> {
  const b = share.batch;
  const outputs = tf.tidy(() => {
    const prefix = model.textPrefix(b, drop);
    const t = model.forward(b, { dropout: drop, withProjections, textPrefix: prefix });
    const pairs = Object.entries(t.projections) as [PairName, tf.Tensor2D][];
    const list: tf.Tensor[] = [t.preds, t.lld];
    for (const m of MODALITIES) list.push(t.cpc[m].x, t.cpc[m].pred);
    for (const [, p] of pairs) list.push(p);
    return { list, pairs: pairs.map(([name, p]) => ({ name, dim: p.shape[1] ?? 0 })) };
  });
  const values = await readTensors(outputs.list);
  tf.dispose(outputs.list);
  const [preds = new Float32Array(0), lld = new Float32Array(0)] = values;
  const cpc = Object.fromEntries(
    MODALITIES.map((m, i) => {
      const x = values[2 + 2 * i] ?? new Float32Array(0);
      return [m, { x, pred: values[3 + 2 * i] ?? new Float32Array(0), dim: x.length / b.size }];
    }),
  ) as CouplingRows['cpc'];
  const z: CouplingRows['z'] = {};
  outputs.pairs.forEach(({ name, dim }, k) => {
    z[name] = { data: values[2 + 2 * MODALITIES.length + k] ?? new Float32Array(0), dim };
  });
  let l1Sum = 0;
  b.labels.forEach((y, i) => (l1Sum += Math.abs((preds[i] ?? 0) - y)));
  return {
    rows: b.size,
    cpc,
    z,
    labels: Float32Array.from(b.labels),
    l1Sum,
    lldSum: (lld[0] ?? NaN) * b.size,
  };
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** What an all-gather returns: the ranks' rows in rank (= global row) order. */
export function gatherCoupling(parts: readonly CouplingRows[]): CouplingRows {
  const first = parts[0];
  if (first === undefined) throw new Error('gatherCoupling: no parts');
  const cpc = Object.fromEntries(
    MODALITIES.map((m) => [
      m,
      {
        x: concat(parts.map((p) => p.cpc[m].x)),
        pred: concat(parts.map((p) => p.cpc[m].pred)),
        dim: first.cpc[m].dim,
      },
    ]),
  ) as CouplingRows['cpc'];
  const z: CouplingRows['z'] = {};
  for (const pair of Object.keys(first.z) as PairName[]) {
    z[pair] = {
      data: concat(parts.map((p) => p.z[pair]?.data ?? new Float32Array(0))),
      dim: first.z[pair]?.dim ?? 0,
    };
  }
  return {
    rows: parts.reduce((n, p) => n + p.rows, 0),
    cpc,
    z,
    labels: concat(parts.map((p) => p.labels)),
    l1Sum: parts.reduce((s, p) => s + p.l1Sum, 0),
    lldSum: parts.reduce((s, p) => s + p.lldSum, 0),
  };
}

/** The global rows with this rank's own rows replaced by live (taped) tensors. */
function withOwnRows(
  all: Float32Array,
  dim: number,
  own: tf.Tensor2D,
  share: RankShare,
): tf.Tensor2D {
  const before = share.offset;
  const after = share.globalSize - share.offset - share.batch.size;
  const parts: tf.Tensor2D[] = [];
  if (before > 0) parts.push(tf.tensor2d(all.subarray(0, before * dim), [before, dim]));
  parts.push(own);
  if (after > 0)
    parts.push(tf.tensor2d(all.subarray((before + share.batch.size) * dim), [after, dim]));
  return parts.length === 1 ? own : tf.concat(parts, 0);
}

export interface ShardOptions {
  stage: 0 | 1;
  contrast: boolean;
  alpha: number;
  beta: number;
  /** The reference's rules for this batch index (TwoStageStepper.stageFlags()). */
  useMemory: boolean;
  hInLoss: boolean;
  jitter: number;
}

export interface ShardResult {
  /** This rank's share of the parameter gradients (sum over ranks = whole-batch gradients). */
  grads: Map<ParamName, Float32Array>;
  /** The global loss and its terms (the same on every rank). */
  values: Omit<StepReport, 'stage' | 'batchIndex' | 'gradNorm' | 'skippedNonFinite' | 'stepped'>;
  /** The global entropy memory for the next batch (the same on every rank; kept tensors). */
  nextMemory: Partial<Record<PairName, EntropyMemory>>;
}

/**
 * Phase 3: this rank's gradient of the global loss, given everyone's coupling rows. The
 * gradients and the coupled terms are read back once, asynchronously (they go to the exchange).
 */
export async function shardGradients(
  model: MmimModel,
  share: RankShare,
  global: CouplingRows,
  memory: Partial<Record<PairName, EntropyMemory>>,
  drop: DropoutContext,
  o: ShardOptions,
): Promise<ShardResult> {
  if (global.rows !== share.globalSize)
    throw new Error(`gathered ${global.rows} rows for a global batch of ${share.globalSize}`);
  const B = share.globalSize;
  const own = share.batch.size / B;
  const withProjections = o.stage === 1 && o.contrast;
  const prefix = model.textPrefix(share.batch, drop);
  const nextMemory: Partial<Record<PairName, EntropyMemory>> = {};
  // Scalars of the global coupled terms, kept for the one read after the backward pass.
  const kept: {
    nce: tf.Scalar | null;
    H: tf.Scalar | null;
    hOk: tf.Scalar | null;
    skipped: tf.Scalar | null;
  } = { nce: null, H: null, hOk: null, skipped: null };
  const { value, grads } = tf.variableGrads(() => {
    const t = model.forward(share.batch, { dropout: drop, withProjections, textPrefix: prefix });
    const lldShare = tf.mul(t.lld, own);
    if (o.stage === 0) return tf.neg(lldShare) as tf.Scalar;
    const yShare = tf.mul(
      tf.mean(tf.abs(tf.sub(tf.reshape(t.preds, [-1]), tf.tensor1d(share.batch.labels)))),
      own,
    );
    if (!o.contrast) return yShare as tf.Scalar;
    const nceTerms = MODALITIES.map((m) => {
      const g = global.cpc[m];
      return cpcNce(
        withOwnRows(g.x, g.dim, t.cpc[m].x, share),
        withOwnRows(g.pred, g.dim, t.cpc[m].pred, share),
      );
    });
    const nceGlobal = tf.addN(nceTerms) as tf.Scalar;
    kept.nce = tf.keep(nceGlobal);
    let loss = tf.sub(
      tf.add(yShare, tf.mul(nceGlobal, o.alpha)),
      tf.mul(lldShare, o.beta),
    ) as tf.Scalar;
    const results: EntropyResult[] = [];
    for (const [pair, z] of Object.entries(t.projections) as [PairName, tf.Tensor2D][]) {
      const g = global.z[pair];
      if (g === undefined) throw new Error(`gathered rows lack the ${pair} projections`);
      // The global rows (own rows live): its memory is the whole batch's, as on one worker.
      const r = entropyTerm(
        withOwnRows(g.data, g.dim, z, share),
        global.labels,
        o.useMemory ? (memory[pair] ?? null) : null,
        o.jitter,
      );
      nextMemory[pair] = r.next;
      results.push(r);
    }
    const entropy = combinePairEntropies(results);
    if (entropy !== null) {
      kept.H = tf.keep(entropy.H);
      kept.hOk = tf.keep(entropy.ok);
      kept.skipped = tf.keep(entropy.skipped);
      if (o.hInLoss) loss = tf.sub(loss, tf.mul(entropy.H, o.beta)) as tf.Scalar;
    }
    return loss;
  }, model.trainableVariables());
  prefix?.dispose();
  value.dispose();
  const names = Object.keys(grads);
  const scalars = [kept.nce, kept.H, kept.hOk, kept.skipped].filter(
    (x): x is tf.Scalar => x !== null,
  );
  const values = await readTensors([...names.map((n) => grads[n] as tf.Tensor), ...scalars]);
  tf.dispose([...Object.values(grads), ...scalars]);
  const out = new Map<ParamName, Float32Array>();
  names.forEach((v, i) => out.set(model.paramOfVariable(v), values[i] as Float32Array));
  let at = names.length;
  const next = (t: tf.Scalar | null): number | null =>
    t === null ? null : ((values[at++] as Float32Array)[0] ?? NaN);
  const nce = next(kept.nce) ?? NaN;
  const Hvalue = next(kept.H);
  const hOk = next(kept.hOk);
  const skippedCount = next(kept.skipped) ?? 0;
  const H = hOk === 1 ? Hvalue : null;
  const lld = global.lldSum / B;
  const yLoss = o.stage === 1 ? global.l1Sum / B : null;
  let loss: number;
  if (o.stage === 0) loss = -lld;
  else if (!o.contrast) loss = yLoss ?? NaN;
  else
    loss = (yLoss ?? 0) + o.alpha * nce - o.beta * lld - (o.hInLoss && H !== null ? o.beta * H : 0);
  return {
    grads: out,
    values: {
      loss,
      yLoss,
      lld,
      nce: o.stage === 1 && o.contrast ? nce : NaN,
      H,
      entropySkipped: Math.round(skippedCount),
    },
    nextMemory,
  };
}

/** Everything a rank needs from its group: the all-gather and the gradient sum. */
export interface RankGroup {
  allGather(rows: CouplingRows): Promise<CouplingRows>;
  sumGradients(grads: Map<ParamName, Float32Array>): Promise<Map<ParamName, Float32Array>>;
}

/**
 * A rank group with an owner-sharded optimiser: instead of every rank summing every gradient,
 * each rank receives the sums of the pieces it owns (reduce-scatter), steps them, and publishes
 * them; everyone pulls what changed.
 */
export interface ShardedRankGroup {
  /**
   * This rank's part of the optimiser for these trainable parameters (every rank passes the same
   * list in the same order); called once, before the first step.
   */
  shardFor(params: readonly { name: ParamName; size: number }[]): StepperSharding;
  allGather(rows: CouplingRows): Promise<CouplingRows>;
  /**
   * Every rank's gradients summed (in rank order) over the pieces this rank owns, and the names
   * every rank computed (checked to be the same on every rank).
   */
  reduceScatter(grads: Map<ParamName, Float32Array>): Promise<OwnedGradients>;
  /** Sum over ranks of a float64, in rank order. */
  sumOverRanks(x: number): Promise<number>;
  /**
   * Publish this rank's updated pieces of `changed` (read from `host`) and copy every other
   * rank's pieces of them into `host`.
   */
  publish(changed: readonly ParamName[], host: Map<ParamName, Float32Array>): Promise<void>;
}

/** Phases 1 to 3 of a data-parallel step: this rank's share of the global batch's gradients. */
async function rankGradients(
  stepper: TwoStageStepper,
  share: RankShare,
  group: Pick<RankGroup, 'allGather'>,
): Promise<ShardResult> {
  const flags = stepper.stageFlags();
  const opt = stepper.opt;
  const drop: DropoutContext = {
    seed: opt.seed,
    step: stepper.globalStep,
    sampleIndex: share.batch.sampleIndex,
  };
  const withProjections = flags.stage === 1 && opt.contrast;
  const global = await group.allGather(
    await couplingRows(stepper.model, share, drop, withProjections),
  );
  return shardGradients(stepper.model, share, global, stepper.currentMemory(), drop, {
    stage: flags.stage,
    contrast: opt.contrast,
    alpha: opt.alpha,
    beta: opt.beta,
    useMemory: flags.useMemory,
    hInLoss: flags.hInLoss,
    jitter: stepper.model.config.entropy_jitter,
  });
}

/**
 * One data-parallel step of `stepper`'s current stage on this rank's share: phase 1, all-gather,
 * phase 3, then either the gradient sum and the same apply path (clipping, Adam, bookkeeping) as
 * one worker on every rank (a replicated optimiser), or, when the stepper is sharded, the
 * reduce-scatter, the owners' Adam and the publication of what changed. Either way every rank
 * ends the step with the parameters one worker would have after the whole batch.
 */
export async function dataParallelStep(
  stepper: TwoStageStepper,
  share: RankShare,
  group: RankGroup | ShardedRankGroup,
): Promise<StepReport> {
  const r = await rankGradients(stepper, share, group);
  if (stepper.sharding !== null) {
    if (!isShardedGroup(group))
      throw new Error('a sharded stepper needs a ShardedRankGroup (reduceScatter, publish)');
    const owned = await group.reduceScatter(r.grads);
    const host = stepper.model.host;
    return stepper.applyShardedGradients(
      owned,
      r.values,
      {
        sumOverRanks: (x) => group.sumOverRanks(x),
        publish: (changed) => group.publish(changed, host),
      },
      r.nextMemory,
    );
  }
  if (!('sumGradients' in group))
    throw new Error('a replicated stepper needs a RankGroup with sumGradients');
  const summed = await group.sumGradients(r.grads);
  return stepper.applyGradients(summed, r.values, r.nextMemory);
}

export function isShardedGroup(g: RankGroup | ShardedRankGroup): g is ShardedRankGroup {
  return 'reduceScatter' in g && 'publish' in g;
}
