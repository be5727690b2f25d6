/**
 * MMIM's two-stage optimisation step (MMIM.md, "Training procedure"), one batch at a time:
 *
 * - stage 0: loss = -lld (no labels, no entropy), step the `mmilb` optimiser;
 * - stage 1: loss = L1(pred, y) + alpha nce - beta lld (contrast on), minus beta H from the
 *   third batch on (`i_batch > 1`, once the one-batch memory has been filled), step `main`.
 *
 * Before each step the gradients of ALL parameters that have one are clipped together
 * (including those the current optimiser does not step). PyTorch's gradient bookkeeping is
 * reproduced: a parameter whose gradient was never computed has None and Adam skips it; once
 * computed, `zero_grad()` leaves a zero gradient that Adam steps (weight decay + moments). This
 * is the reference's behaviour (`zeroGradToNone: false`); `true` gives the clean variant.
 *
 * A step whose gradient norm is not finite is skipped (no weight or moment changes) and
 * reported, so a NaN can never reach the weights.
 *
 * Where the step runs is the backend's profile (kernels/registry.ts): with a 'host' optimiser
 * (wasm, cpu) the gradients are read once, asynchronously, and Adam runs on Float32Arrays; with a
 * 'device' optimiser (webgpu, tfjs-node) clipping, the finiteness guard and Adam are tensor ops,
 * and the only read is the step's report (losses, counters, the norm), one small tensor awaited
 * after everything is enqueued. No step reads a tensor synchronously.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MmimBatch } from './batch.js';
import {
  combinePairEntropies,
  disposeMemory,
  entropyTerm,
  type EntropyMemory,
  type EntropyResult,
} from './layers/entropy.js';
import type { DropoutContext } from './layers/basic.js';
import type { MmimModel, PairName } from './model.js';
import { sliceBatch } from './synthetic.js';
import { TorchAdam, type AdamGroup, type AdamOptimizer } from './optim/adam.js';
import { clipFactor, globalNorm } from './optim/clip.js';
import { DeviceAdam, type DeviceGrad } from './optim/device-adam.js';
import {
  ShardedAdam,
  type MomentReader,
  type OptimizerShard,
  type PieceGrads,
} from './optim/sharded-adam.js';
import { assertModelKernels, type BackendProfile } from './kernels/registry.js';
import { BERT_PREFIX, groupOf, type ParamName } from './params.js';

export interface OptimizationConfig {
  lr_main: number;
  lr_bert: number;
  lr_mmilb: number;
  weight_decay_main: number;
  weight_decay_bert: number;
  weight_decay_club: number;
  clip: number;
  alpha: number;
  beta: number;
  contrast: boolean;
  /** Seed of the dropout masks. */
  seed: number;
  /** PyTorch >= 2 zero_grad(set_to_none=True) semantics instead of the reference's zeros. */
  zeroGradToNone: boolean;
  /**
   * Run the trainable BERT part in micro-batches of this many samples (0 = whole batch). The
   * loss and gradients stay those of the whole batch: the text vectors are computed first, the
   * rest of MMIM takes its gradient w.r.t. them, and BERT's gradient is accumulated per
   * micro-batch as a vector-Jacobian product. Costs one extra BERT forward; bounds activation
   * memory to one micro-batch.
   */
  textMicroBatch?: number;
  /**
   * Accumulate the gradients of this many batches (summed) before one clipped optimiser step
   * (default 1). The reference's option of the same name zeroes the gradients every batch, so it
   * steps on the last batch's gradient alone; this is the accumulation the option is named for.
   */
  updateBatch?: number;
}

/** The authors' public defaults (MMIM.md, "Defaults"), seed 1111, PyTorch 1.x zero_grad. */
export const REFERENCE_OPTIMIZATION: Readonly<OptimizationConfig> = {
  lr_main: 1e-3,
  lr_bert: 5e-5,
  lr_mmilb: 1e-3,
  weight_decay_main: 1e-4,
  weight_decay_bert: 1e-4,
  weight_decay_club: 1e-4,
  clip: 1,
  alpha: 0.1,
  beta: 0.1,
  contrast: true,
  seed: 1111,
  zeroGradToNone: false,
};

export type Stage = 0 | 1;

export interface StepReport {
  stage: Stage;
  /** Index of the batch within the stage's pass (the reference's i_batch). */
  batchIndex: number;
  loss: number;
  yLoss: number | null;
  lld: number;
  nce: number;
  /** Sum of the pairs' entropies when computed this step, else null. */
  H: number | null;
  /** Pairs whose entropy was dropped (covariance not positive definite). */
  entropySkipped: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** True when the step was skipped because the gradient norm was not finite. */
  skippedNonFinite: boolean;
  /** Whether this batch ended with an optimiser step (false while accumulating). */
  stepped: boolean;
}

/** The loss terms of a step, as numbers (host) before the bookkeeping fields are added. */
export type StepValues = Omit<
  StepReport,
  'stage' | 'batchIndex' | 'gradNorm' | 'skippedNonFinite' | 'stepped'
>;

/** The loss terms of a step as device scalars, read once after the step. */
interface DeviceTerms {
  loss: tf.Scalar;
  yLoss: tf.Scalar | null;
  lld: tf.Scalar;
  nce: tf.Scalar;
  /** Sum of the pairs' (masked) entropies, when computed. */
  H: tf.Scalar | null;
  /** 1 when every pair's entropy was usable. */
  hOk: tf.Scalar | null;
  /** Pairs whose entropy was dropped. */
  skipped: tf.Scalar | null;
}

type TermSource = { kind: 'host'; values: StepValues } | { kind: 'device'; terms: DeviceTerms };

/**
 * An owner-sharded optimiser (ZeRO-style, data-parallel over a parameter server): this rank keeps
 * the Adam moments of `shard`'s chunks only and updates only their pieces; `readMoments` reads
 * everyone's moments (checkpoints). The optimiser then runs on the host whatever the backend.
 */
export interface StepperSharding {
  shard: OptimizerShard;
  readMoments: MomentReader;
}

/** What a sharded step needs of its rank group (sharded.ts supplies it). */
export interface ShardExchange {
  /** Sum over all ranks of a float64 (added in rank order: every rank gets the same bits). */
  sumOverRanks(x: number): Promise<number>;
  /**
   * After the owners stepped `changed`: publish this rank's updated pieces and copy every other
   * rank's into `model.host` (the caller then syncs `changed` to the device).
   */
  publish(changed: readonly ParamName[]): Promise<void>;
}

/** The summed gradients one rank owns after a reduce-scatter. */
export interface OwnedGradients {
  /** Every parameter with a gradient this step (the same list on every rank). */
  names: readonly ParamName[];
  /** The owned pieces of those gradients, summed over the ranks. */
  owned: Map<ParamName, PieceGrads>;
}

export class TwoStageStepper {
  readonly mmilbOptimizer: AdamOptimizer;
  readonly mainOptimizer: AdamOptimizer;
  /** How this backend runs the step (kernels, where the optimiser lives). */
  readonly profile: BackendProfile;
  /** Parameters whose gradient PyTorch would hold as a tensor (not None). */
  readonly gradComputed = new Set<ParamName>();
  /** Optimiser steps taken (both stages): keys the dropout masks. */
  globalStep = 0;
  private memory: Partial<Record<PairName, EntropyMemory>> = {};
  private stage: Stage = 0;
  private batchIndex = 0;
  /** Summed gradients of the batches since the last step (updateBatch > 1), host path. */
  private pending: Map<ParamName, Float32Array> | null = null;
  /** The same on the device path ('zero' for a zeroed gradient not yet summed with another). */
  private pendingOnDevice: Map<ParamName, DeviceGrad> | null = null;
  private pendingCount = 0;

  /** Set when the optimiser is owner-sharded (data-parallel over a parameter server). */
  readonly sharding: StepperSharding | null;
  /** Owned summed gradients of the batches since the last step (sharded, updateBatch > 1). */
  private pendingOwned: Map<ParamName, PieceGrads> | null = null;

  constructor(
    readonly model: MmimModel,
    readonly opt: OptimizationConfig,
    sharding?: StepperSharding,
  ) {
    // A model op with no kernel on this backend fails here, at the start, not mid-trial.
    this.profile = assertModelKernels();
    this.sharding = sharding ?? null;
    const trainable = new Set(model.trainableVariables().map((v) => model.paramOfVariable(v.name)));
    const names = model.specs.map((s) => s.name).filter((n) => trainable.has(n));
    const by = (g: string): ParamName[] => names.filter((n) => groupOf(n) === g);
    const make = (groups: AdamGroup[]): AdamOptimizer =>
      sharding !== undefined
        ? new ShardedAdam(groups, sharding.shard, sharding.readMoments)
        : this.profile.optimizer === 'device'
          ? new DeviceAdam(groups)
          : new TorchAdam(groups);
    this.mmilbOptimizer = make([
      { name: 'mmilb', params: by('mmilb'), lr: opt.lr_mmilb, weightDecay: opt.weight_decay_club },
    ]);
    this.mainOptimizer = make([
      { name: 'bert', params: by('bert'), lr: opt.lr_bert, weightDecay: opt.weight_decay_bert },
      { name: 'main', params: by('main'), lr: opt.lr_main, weightDecay: opt.weight_decay_main },
    ]);
  }

  /** Start a pass over the training set: resets i_batch and the entropy memory (as train()). */
  beginStage(stage: Stage): void {
    if (stage === 0 && !this.opt.contrast) throw new Error('stage 0 runs only with contrast on');
    this.stage = stage;
    this.batchIndex = 0;
    this.pending = null;
    this.pendingOwned = null;
    this.disposePendingOnDevice();
    this.pendingCount = 0;
    disposeMemory(this.memory);
    this.memory = {};
  }

  /**
   * Where the current stage stands, to resume it elsewhere (the live state of a sharded trial):
   * the stage, i_batch and the entropy memory's values. Only between optimiser steps (nothing
   * accumulated): a resumed trial has no way to rebuild the owners' pending sums.
   */
  async stageCursor(): Promise<StageCursor> {
    if (this.pendingCount !== 0)
      throw new Error(
        'stageCursor: gradients are being accumulated (update_batch); not a step boundary',
      );
    const memory: StageCursor['memory'] = {};
    for (const [pair, m] of Object.entries(this.memory) as [PairName, EntropyMemory][]) {
      const [pos, neg] = await Promise.all([m.pos.data(), m.neg.data()]);
      memory[pair] = {
        pos: { data: Array.from(pos as Float32Array), shape: m.pos.shape },
        neg: { data: Array.from(neg as Float32Array), shape: m.neg.shape },
      };
    }
    return { stage: this.stage, batchIndex: this.batchIndex, memory };
  }

  /** True between optimiser steps (no gradients accumulated towards the next one). */
  get atStepBoundary(): boolean {
    return this.pendingCount === 0;
  }

  /** Continue a stage from `stageCursor()`'s result (after beginStage's reset). */
  restoreStage(c: StageCursor): void {
    this.beginStage(c.stage);
    this.batchIndex = c.batchIndex;
    for (const [pair, m] of Object.entries(c.memory) as [
      PairName,
      StageCursor['memory'][PairName],
    ][]) {
      if (m === undefined) continue;
      this.memory[pair] = {
        pos: tf.tensor2d(Float32Array.from(m.pos.data), m.pos.shape),
        neg: tf.tensor2d(Float32Array.from(m.neg.data), m.neg.shape),
      };
    }
  }

  /** One optimiser step of the current stage on `batch`. */
  async step(batch: MmimBatch): Promise<StepReport> {
    const { grads, terms, nextMemory } = this.computeGradients(batch);
    const memory = this.stage === 1 ? nextMemory : undefined;
    if (this.profile.optimizer === 'device') {
      return this.applyOnDevice(grads, { kind: 'device', terms }, memory);
    }
    // Host optimiser: every gradient and term read once, asynchronously.
    const entries = [...grads];
    const [values, ...data] = await Promise.all([
      readTerms(terms),
      ...entries.map(([, g]) => g.data() as Promise<Float32Array>),
    ]);
    // data() hands back a copy or, on cpu, the disposed tensor's own array: either way ours, and
    // applyGradients only reads it.
    const host = new Map<ParamName, Float32Array>();
    entries.forEach(([name], i) => host.set(name, data[i] as Float32Array));
    tf.dispose(entries.map(([, g]) => g));
    return this.applyGradients(host, values, memory);
  }

  /**
   * Forward and backward of the current stage on `batch`, all on the device: the gradients by
   * parameter, the loss terms as kept scalars, and (stage 1) the next entropy memory.
   */
  private computeGradients(batch: MmimBatch): {
    grads: Map<ParamName, tf.Tensor>;
    terms: DeviceTerms;
    nextMemory: Partial<Record<PairName, EntropyMemory>>;
  } {
    const { stage, useMemory, hInLoss } = this.stageFlags();
    const { model, opt } = this;
    const drop = { seed: opt.seed, step: this.globalStep, sampleIndex: batch.sampleIndex };
    // lld and nce are set by every forward; null only until it has run.
    const kept: Omit<DeviceTerms, 'loss' | 'lld' | 'nce'> & {
      lld: tf.Scalar | null;
      nce: tf.Scalar | null;
    } = { yLoss: null, lld: null, nce: null, H: null, hOk: null, skipped: null };
    const nextMemory: Partial<Record<PairName, EntropyMemory>> = {};

    const micro = opt.textMicroBatch ?? 0;
    const microBatched = micro > 0 && micro < batch.size && model.bertTrains;
    const prefix = microBatched ? null : model.textPrefix(batch, drop);
    // Micro-batched BERT: text vectors first (no tape), held in a temporary variable whose
    // gradient is the upstream gradient for BERT's vector-Jacobian products below.
    let textLeaf: tf.Variable | null = null;
    let microPrefixes: (tf.Tensor2D | null)[] = [];
    if (microBatched) {
      const { text, prefixes } = microBatchedText(model, batch, drop, micro);
      microPrefixes = prefixes;
      textLeaf = tf.variable(text, true, `mmim-text-leaf-${++textLeafCounter}`);
      text.dispose(); // the variable holds its own reference to the data
    }
    const vars =
      textLeaf === null
        ? model.trainableVariables()
        : [...model.trainableVariables().filter((v) => !isBertVariable(model, v.name)), textLeaf];
    const { value, grads } = tf.variableGrads(() => {
      const t = model.forward(batch, {
        dropout: drop,
        withProjections: stage === 1 && opt.contrast,
        textPrefix: prefix,
        text: textLeaf as tf.Tensor2D | null,
      });
      kept.lld = tf.keep(t.lld);
      kept.nce = tf.keep(t.nce);
      if (stage === 0) return tf.neg(t.lld) as tf.Scalar;
      const yLoss: tf.Scalar = tf.mean(
        tf.abs(tf.sub(tf.reshape(t.preds, [-1]), tf.tensor1d(batch.labels))),
      );
      kept.yLoss = tf.keep(yLoss);
      const results: EntropyResult[] = [];
      for (const [pair, z] of Object.entries(t.projections) as [PairName, tf.Tensor2D][]) {
        const r = entropyTerm(
          z,
          batch.labels,
          useMemory ? (this.memory[pair] ?? null) : null,
          model.config.entropy_jitter,
        );
        nextMemory[pair] = r.next;
        results.push(r);
      }
      // Masked on the device: the report shows H as null when a pair was dropped.
      const entropy = combinePairEntropies(results);
      const H = entropy?.H ?? null;
      if (entropy !== null) {
        kept.H = tf.keep(entropy.H);
        kept.hOk = tf.keep(entropy.ok);
        kept.skipped = tf.keep(entropy.skipped);
      }
      // A new tensor: `yLoss` itself is kept for the report and must outlive `value`.
      if (!opt.contrast) return tf.mul(yLoss, 1) as tf.Scalar;
      let loss: tf.Scalar = tf.sub(
        tf.add(yLoss, tf.mul(t.nce, opt.alpha)),
        tf.mul(t.lld, opt.beta),
      ) as tf.Scalar;
      if (hInLoss && H !== null) loss = tf.sub(loss, tf.mul(H, opt.beta)) as tf.Scalar;
      return loss as tf.Scalar;
    }, vars);
    prefix?.dispose();
    if (textLeaf !== null) {
      const upstream = grads[textLeaf.name];
      delete grads[textLeaf.name];
      textLeaf.dispose();
      if (upstream !== undefined) {
        Object.assign(
          grads,
          bertVectorJacobian(model, batch, drop, micro, upstream, microPrefixes),
        );
        upstream.dispose();
      }
      tf.dispose(microPrefixes.filter((x): x is tf.Tensor2D => x !== null));
    }
    const byParam = new Map<ParamName, tf.Tensor>();
    for (const [varName, g] of Object.entries(grads))
      byParam.set(model.paramOfVariable(varName), g);
    const { lld, nce } = kept;
    if (lld === null || nce === null) throw new Error('the forward pass returned no lld/nce');
    return { grads: byParam, terms: { ...kept, lld, nce, loss: value }, nextMemory };
  }

  /** Flags of the current stage's batch `i_batch` (the reference's memory and H rules). */
  stageFlags(): { stage: Stage; batchIndex: number; useMemory: boolean; hInLoss: boolean } {
    const { stage, batchIndex: i } = this;
    const contrast = this.opt.contrast;
    return {
      stage,
      batchIndex: i,
      useMemory: stage === 1 && contrast && i >= 1,
      hInLoss: stage === 1 && contrast && i > 1,
    };
  }

  /** The entropy memory of the current stage (the previous batch's projections). */
  currentMemory(): Partial<Record<PairName, EntropyMemory>> {
    return this.memory;
  }

  /** Replaces the entropy memory (stage 1), freeing the previous one. */
  private replaceMemory(next: Partial<Record<PairName, EntropyMemory>> | undefined): void {
    if (next === undefined) return;
    if (this.stage !== 1) {
      disposeMemory(next);
      return;
    }
    disposeMemory(this.memory);
    this.memory = next;
  }

  /**
   * The second half of a step, shared by the single-worker and the data-parallel paths: given
   * the (summed) gradients of the whole batch, apply PyTorch's None/zero bookkeeping, the
   * non-finite guard, accumulation, clipping and the current stage's Adam. (The word embedding's
   * padding row arrives already zero: the lookup's gradient never reaches it, layers/bert.ts.)
   * `nextMemory` replaces the entropy memory (stage 1).
   */
  async applyGradients(
    computed: Map<ParamName, Float32Array>,
    values: StepValues,
    nextMemory?: Partial<Record<PairName, EntropyMemory>>,
  ): Promise<StepReport> {
    if (this.profile.optimizer === 'device') {
      const onDevice = new Map<ParamName, tf.Tensor>();
      for (const [name, g] of computed)
        onDevice.set(name, tf.tensor(g, this.model.spec(name).shape));
      return this.applyOnDevice(onDevice, { kind: 'host', values }, nextMemory);
    }
    const { model, opt } = this;
    const stage = this.stage;
    this.replaceMemory(nextMemory);
    const host = new Map<ParamName, Float32Array | undefined>(computed);
    for (const name of computed.keys()) this.gradComputed.add(name);
    if (!opt.zeroGradToNone) {
      for (const name of this.gradComputed) {
        if (!host.has(name))
          host.set(name, new Float32Array(model.spec(name).shape.reduce((a, b) => a * b, 1)));
      }
    }
    const report: StepReport = {
      ...values,
      stage,
      batchIndex: this.batchIndex,
      gradNorm: globalNorm(host.values()),
      skippedNonFinite: false,
      stepped: false,
    };
    this.batchIndex++;
    this.globalStep++;
    if (!Number.isFinite(report.gradNorm) || !Number.isFinite(report.loss)) {
      report.skippedNonFinite = true;
      return report;
    }
    let stepGrads: Map<ParamName, Float32Array | undefined> = host;
    const every = opt.updateBatch ?? 1;
    if (every > 1) {
      this.pending = accumulate(this.pending, host);
      this.pendingCount++;
      if (this.pendingCount < every) return report;
      stepGrads = this.pending;
      this.pending = null;
      this.pendingCount = 0;
      report.gradNorm = globalNorm(stepGrads.values());
    }
    const optimizer = (stage === 0 ? this.mmilbOptimizer : this.mainOptimizer) as TorchAdam;
    const changed = optimizer.step(model.host, stepGrads, clipFactor(report.gradNorm, opt.clip));
    model.syncToDevice(changed);
    report.stepped = true;
    return report;
  }

  /**
   * applyGradients for an owner-sharded optimiser: the same rules (None vs zero gradients, the
   * non-finite guard, accumulation, clipping over ALL parameters, the stage's Adam), with the
   * norm's squares summed over the ranks and Adam applied by each piece's owner, which then
   * publishes it (`exchange.publish`). Every rank takes the same decisions: the norm, the loss and
   * the parameter names are the same everywhere.
   */
  async applyShardedGradients(
    grads: OwnedGradients,
    values: StepValues,
    exchange: ShardExchange,
    nextMemory?: Partial<Record<PairName, EntropyMemory>>,
  ): Promise<StepReport> {
    const sharding = this.sharding;
    if (sharding === null) throw new Error('applyShardedGradients: this stepper is not sharded');
    const { model, opt } = this;
    const stage = this.stage;
    this.replaceMemory(nextMemory);
    const owned = new Map<ParamName, PieceGrads | undefined>();
    for (const name of grads.names) {
      this.gradComputed.add(name);
      owned.set(name, grads.owned.get(name) ?? new Map());
    }
    if (!opt.zeroGradToNone) {
      for (const name of this.gradComputed) {
        if (owned.has(name)) continue;
        const zeros: PieceGrads = new Map();
        for (const { piece } of sharding.shard.piecesOf(name))
          zeros.set(piece.paramOffset, new Float32Array(piece.length));
        owned.set(name, zeros);
      }
    }
    const norm = async (g: Map<ParamName, PieceGrads | undefined>): Promise<number> =>
      Math.sqrt(await exchange.sumOverRanks(sumOfSquares(g)));
    const report: StepReport = {
      ...values,
      stage,
      batchIndex: this.batchIndex,
      gradNorm: await norm(owned),
      skippedNonFinite: false,
      stepped: false,
    };
    this.batchIndex++;
    this.globalStep++;
    if (!Number.isFinite(report.gradNorm) || !Number.isFinite(report.loss)) {
      report.skippedNonFinite = true;
      return report;
    }
    let stepGrads = owned;
    const every = opt.updateBatch ?? 1;
    if (every > 1) {
      this.pendingOwned = accumulatePieces(this.pendingOwned, owned);
      this.pendingCount++;
      if (this.pendingCount < every) return report;
      stepGrads = this.pendingOwned;
      this.pendingOwned = null;
      this.pendingCount = 0;
      report.gradNorm = await norm(stepGrads);
    }
    const optimizer = (stage === 0 ? this.mmilbOptimizer : this.mainOptimizer) as ShardedAdam;
    const changed = optimizer.step(model.host, stepGrads, clipFactor(report.gradNorm, opt.clip));
    await exchange.publish(changed);
    model.syncToDevice(changed);
    report.stepped = true;
    return report;
  }

  /**
   * The device path of applyGradients: the same rules as tensor ops, the update masked by the
   * step's finiteness, and one asynchronous read of the report at the end.
   */
  private async applyOnDevice(
    computed: Map<ParamName, tf.Tensor>,
    source: TermSource,
    nextMemory?: Partial<Record<PairName, EntropyMemory>>,
  ): Promise<StepReport> {
    const { model, opt } = this;
    const stage = this.stage;
    this.replaceMemory(nextMemory);
    const grads = new Map<ParamName, DeviceGrad>(computed);
    for (const name of computed.keys()) this.gradComputed.add(name);
    if (!opt.zeroGradToNone) {
      for (const name of this.gradComputed) if (!grads.has(name)) grads.set(name, 'zero');
    }
    const batchIndex = this.batchIndex;
    this.batchIndex++;
    this.globalStep++;
    const loss = source.kind === 'device' ? source.terms.loss : tf.scalar(source.values.loss);
    const norm = deviceGlobalNorm(grads.values());
    const finite = tf.tidy(() => tf.logicalAnd(tf.isFinite(norm), tf.isFinite(loss)) as tf.Scalar);
    const optimizer = (stage === 0 ? this.mmilbOptimizer : this.mainOptimizer) as DeviceAdam;
    const variables = (name: ParamName): tf.Variable => model.param(name) as tf.Variable;
    const every = opt.updateBatch ?? 1;
    let changed: ParamName[] = [];
    if (every <= 1) {
      const scale = deviceClipFactor(norm, opt.clip);
      changed = optimizer.step(variables, grads, scale, finite);
      model.markDeviceAhead();
      scale.dispose();
    } else {
      this.pendingOnDevice = accumulateOnDevice(this.pendingOnDevice, grads, finite);
    }
    const read = await readReport(source, norm, finite);
    if (source.kind === 'host') loss.dispose();
    for (const g of computed.values()) g.dispose();
    tf.dispose([norm, finite]);
    const report: StepReport = {
      ...read.values,
      stage,
      batchIndex,
      gradNorm: read.gradNorm,
      skippedNonFinite: !read.finite,
      stepped: false,
    };
    if (!read.finite) {
      optimizer.rollback(changed);
      return report;
    }
    if (every <= 1) {
      report.stepped = true;
      return report;
    }
    this.pendingCount++;
    if (this.pendingCount < every) return report;
    // The accumulated sums are finite (each batch was added only when finite).
    const sums = this.pendingOnDevice ?? new Map<ParamName, DeviceGrad>();
    this.pendingOnDevice = null;
    this.pendingCount = 0;
    const sumNorm = deviceGlobalNorm(sums.values());
    const scale = deviceClipFactor(sumNorm, opt.clip);
    const always = tf.scalar(true, 'bool');
    optimizer.step(variables, sums, scale, always);
    model.markDeviceAhead();
    report.gradNorm = ((await sumNorm.data())[0] ?? Number.NaN) as number;
    tf.dispose([sumNorm, scale, always]);
    for (const g of sums.values()) if (g !== 'zero') g.dispose();
    report.stepped = true;
    return report;
  }

  private disposePendingOnDevice(): void {
    if (this.pendingOnDevice === null) return;
    for (const g of this.pendingOnDevice.values()) if (g !== 'zero') g.dispose();
    this.pendingOnDevice = null;
  }

  /** Frees what the stepper holds on the device (memory, optimiser state, pending sums). */
  dispose(): void {
    disposeMemory(this.memory);
    this.memory = {};
    this.disposePendingOnDevice();
    this.mmilbOptimizer.dispose();
    this.mainOptimizer.dispose();
  }
}

/** sqrt of the sum of squares of every gradient (zeros contribute nothing), on the device. */
function deviceGlobalNorm(grads: Iterable<DeviceGrad>): tf.Scalar {
  return tf.tidy(() => {
    const parts = [...grads]
      .filter((g): g is tf.Tensor => g !== 'zero')
      .map((g) => tf.sum(tf.square(g)));
    if (parts.length === 0) return tf.scalar(0);
    // stack, not addN: tfjs-backend-webgpu's AddN binds every input at once and fails past the
    // device's storage-buffer limit (8 on some adapters); its Concat splits into chunks.
    return tf.sqrt(tf.sum(tf.stack(parts))) as tf.Scalar;
  });
}

/** clip_grad_norm_'s factor on the device: min(max_norm / (norm + 1e-6), 1). */
function deviceClipFactor(norm: tf.Scalar, maxNorm: number): tf.Scalar {
  return tf.tidy(() => tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1) as tf.Scalar);
}

/** Adds this batch's gradients to the running sums when `finite` (masked on the device). */
function accumulateOnDevice(
  sums: Map<ParamName, DeviceGrad> | null,
  grads: Map<ParamName, DeviceGrad>,
  finite: tf.Scalar,
): Map<ParamName, DeviceGrad> {
  const out = sums ?? new Map<ParamName, DeviceGrad>();
  for (const [name, g] of grads) {
    const acc = out.get(name);
    if (g === 'zero') {
      if (acc === undefined) out.set(name, 'zero');
      continue;
    }
    const masked = tf.tidy(() => tf.where(finite, g, tf.zerosLike(g)));
    if (acc === undefined || acc === 'zero') out.set(name, masked);
    else {
      out.set(name, tf.add(acc, masked));
      tf.dispose([acc, masked]);
    }
  }
  return out;
}

/** Reads the terms of a host-optimiser step (one await for all of them). */
async function readTerms(terms: DeviceTerms): Promise<StepValues> {
  const { values } = await readReport({ kind: 'device', terms }, null, null);
  return values;
}

function disposeTerms(terms: DeviceTerms): void {
  tf.dispose(
    [terms.loss, terms.yLoss, terms.lld, terms.nce, terms.H, terms.hOk, terms.skipped].filter(
      (t): t is tf.Scalar => t !== null,
    ),
  );
}

/**
 * The report's numbers: the loss terms (device scalars or host numbers), the gradient norm and
 * the finiteness flag, read with ONE asynchronous read of a small stacked tensor. Disposes the
 * device terms.
 */
async function readReport(
  source: TermSource,
  norm: tf.Scalar | null,
  finite: tf.Scalar | null,
): Promise<{ values: StepValues; gradNorm: number; finite: boolean }> {
  const parts: tf.Scalar[] = [];
  const at = (t: tf.Scalar | null): number => {
    if (t === null) return -1;
    parts.push(t);
    return parts.length - 1;
  };
  const terms = source.kind === 'device' ? source.terms : null;
  const idx = {
    loss: at(terms?.loss ?? null),
    yLoss: at(terms?.yLoss ?? null),
    lld: at(terms?.lld ?? null),
    nce: at(terms?.nce ?? null),
    H: at(terms?.H ?? null),
    hOk: at(terms?.hOk ?? null),
    skipped: at(terms?.skipped ?? null),
    norm: at(norm),
    finite: at(finite === null ? null : (tf.cast(finite, 'float32') as tf.Scalar)),
  };
  let data: Float32Array = new Float32Array(0);
  if (parts.length > 0) {
    const stacked = tf.tidy(() => tf.stack(parts.map((p) => tf.reshape(p, [1]))));
    data = (await stacked.data()) as Float32Array;
    stacked.dispose();
  }
  const get = (i: number): number | null => (i < 0 ? null : (data[i] ?? Number.NaN));
  if (idx.finite >= 0) parts[idx.finite]?.dispose();
  if (terms !== null) disposeTerms(terms);
  const values: StepValues =
    terms === null && source.kind === 'host'
      ? source.values
      : {
          loss: get(idx.loss) ?? Number.NaN,
          yLoss: get(idx.yLoss),
          lld: get(idx.lld) ?? Number.NaN,
          nce: get(idx.nce) ?? Number.NaN,
          H: (get(idx.hOk) ?? 0) === 1 ? get(idx.H) : null,
          entropySkipped: Math.round(get(idx.skipped) ?? 0),
        };
  return { values, gradNorm: get(idx.norm) ?? Number.NaN, finite: (get(idx.finite) ?? 1) === 1 };
}

let textLeafCounter = 0;

/** Where a stage stands between steps (see TwoStageStepper.stageCursor). */
export interface StageCursor {
  stage: Stage;
  batchIndex: number;
  memory: Partial<
    Record<
      PairName,
      {
        pos: { data: number[]; shape: [number, number] };
        neg: { data: number[]; shape: [number, number] };
      }
    >
  >;
}

/** Sum of squares (float64) of every piece, in map order. */
function sumOfSquares(grads: Map<ParamName, PieceGrads | undefined>): number {
  let sum = 0;
  for (const pieces of grads.values()) {
    if (pieces === undefined) continue;
    for (const g of pieces.values()) {
      for (let i = 0; i < g.length; i++) {
        const x = g[i] ?? 0;
        sum += x * x;
      }
    }
  }
  return sum;
}

/** `accumulate` for owned pieces: a parameter first seen now starts at (a copy of) its pieces. */
function accumulatePieces(
  sums: Map<ParamName, PieceGrads> | null,
  grads: Map<ParamName, PieceGrads | undefined>,
): Map<ParamName, PieceGrads> {
  const out = sums ?? new Map<ParamName, PieceGrads>();
  for (const [name, pieces] of grads) {
    if (pieces === undefined) continue;
    const acc = out.get(name);
    if (acc === undefined) {
      out.set(name, new Map([...pieces].map(([at, g]) => [at, Float32Array.from(g)])));
      continue;
    }
    for (const [at, g] of pieces) {
      const a = acc.get(at);
      if (a === undefined) acc.set(at, Float32Array.from(g));
      else for (let i = 0; i < a.length; i++) a[i] = a[i]! + g[i]!;
    }
  }
  return out;
}

/** Add one batch's gradients into the running sums (a parameter first seen now starts at it). */
function accumulate(
  sums: Map<ParamName, Float32Array> | null,
  grads: Map<ParamName, Float32Array | undefined>,
): Map<ParamName, Float32Array> {
  const out = sums ?? new Map<ParamName, Float32Array>();
  for (const [name, g] of grads) {
    if (g === undefined) continue;
    const acc = out.get(name);
    if (acc === undefined) out.set(name, Float32Array.from(g));
    else for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + g[i]!;
  }
  return out;
}

function isBertVariable(model: MmimModel, variableName: string): boolean {
  return model.paramOfVariable(variableName).startsWith(BERT_PREFIX);
}

function microBatches(size: number, micro: number): [number, number][] {
  const out: [number, number][] = [];
  for (let from = 0; from < size; from += micro) out.push([from, Math.min(size, from + micro)]);
  return out;
}

/** [CLS] vectors of the whole batch, computed micro-batch by micro-batch without a tape. */
function microBatchedText(
  model: MmimModel,
  batch: MmimBatch,
  drop: DropoutContext,
  micro: number,
): { text: tf.Tensor2D; prefixes: (tf.Tensor2D | null)[] } {
  const c = model.config;
  const prefixes: (tf.Tensor2D | null)[] = [];
  const parts = microBatches(batch.size, micro).map(([from, to]) => {
    const mb = sliceBatch(batch, from, to, c.d_vin, c.d_ain);
    const mdrop = { ...drop, sampleIndex: mb.sampleIndex };
    // Frozen-layer outputs are kept (small) so the gradient pass does not recompute them.
    const prefix = model.textPrefix(mb, mdrop);
    prefixes.push(prefix);
    return tf.tidy(() => model.text(mb, mdrop, prefix));
  });
  const text = tf.concat(parts, 0);
  tf.dispose(parts);
  return { text, prefixes };
}

/**
 * BERT's gradient for the whole batch as a sum over micro-batches of d<text_m, upstream_m>/dθ,
 * recomputing each micro-batch's forward with a tape.
 */
function bertVectorJacobian(
  model: MmimModel,
  batch: MmimBatch,
  drop: DropoutContext,
  micro: number,
  upstream: tf.Tensor,
  prefixes: (tf.Tensor2D | null)[],
): tf.NamedTensorMap {
  const c = model.config;
  const bertVars = model.trainableVariables().filter((v) => isBertVariable(model, v.name));
  const total: tf.NamedTensorMap = {};
  for (const [k, [from, to]] of microBatches(batch.size, micro).entries()) {
    const mb = sliceBatch(batch, from, to, c.d_vin, c.d_ain);
    const mdrop = { ...drop, sampleIndex: mb.sampleIndex };
    const prefix = prefixes[k] ?? null;
    const up = tf.slice(upstream, [from, 0], [to - from, -1]);
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.mul(model.text(mb, mdrop, prefix), up)) as tf.Scalar,
      bertVars,
    );
    value.dispose();
    up.dispose();
    for (const [name, g] of Object.entries(grads)) {
      const prev = total[name];
      if (prev === undefined) total[name] = g;
      else {
        total[name] = tf.add(prev, g);
        prev.dispose();
        g.dispose();
      }
    }
  }
  return total;
}
