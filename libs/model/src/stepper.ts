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
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MmimBatch } from './batch.js';
import { entropyTerm, type EntropyMemory } from './layers/entropy.js';
import type { DropoutContext } from './layers/basic.js';
import type { MmimModel, PairName } from './model.js';
import { sliceBatch } from './synthetic.js';
import { TorchAdam } from './optim/adam.js';
import { clipFactor, globalNorm } from './optim/clip.js';
import { BERT_PREFIX, groupOf, type ParamName } from './params.js';

const WORD_EMBEDDINGS = `${BERT_PREFIX}embeddings.word_embeddings.weight`;

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

export class TwoStageStepper {
  readonly mmilbOptimizer: TorchAdam;
  readonly mainOptimizer: TorchAdam;
  /** Parameters whose gradient PyTorch would hold as a tensor (not None). */
  readonly gradComputed = new Set<ParamName>();
  /** Optimiser steps taken (both stages): keys the dropout masks. */
  globalStep = 0;
  private memory: Partial<Record<PairName, EntropyMemory>> = {};
  private stage: Stage = 0;
  private batchIndex = 0;
  /** Summed gradients of the batches since the last step (updateBatch > 1). */
  private pending: Map<ParamName, Float32Array> | null = null;
  private pendingCount = 0;

  constructor(
    readonly model: MmimModel,
    readonly opt: OptimizationConfig,
  ) {
    const trainable = new Set(model.trainableVariables().map((v) => model.paramOfVariable(v.name)));
    const names = model.specs.map((s) => s.name).filter((n) => trainable.has(n));
    const by = (g: string): ParamName[] => names.filter((n) => groupOf(n) === g);
    this.mmilbOptimizer = new TorchAdam([
      { name: 'mmilb', params: by('mmilb'), lr: opt.lr_mmilb, weightDecay: opt.weight_decay_club },
    ]);
    this.mainOptimizer = new TorchAdam([
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
    this.pendingCount = 0;
    this.memory = {};
  }

  /** One optimiser step of the current stage on `batch`. */
  step(batch: MmimBatch): StepReport {
    const { stage, useMemory, hInLoss } = this.stageFlags();
    const { model, opt } = this;
    const drop = { seed: opt.seed, step: this.globalStep, sampleIndex: batch.sampleIndex };
    const scalars: {
      y: tf.Scalar | null;
      lld: tf.Scalar | null;
      nce: tf.Scalar | null;
      H: tf.Scalar | null;
    } = {
      y: null,
      lld: null,
      nce: null,
      H: null,
    };
    let entropySkipped = 0;
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
      scalars.lld = tf.keep(t.lld);
      scalars.nce = tf.keep(t.nce);
      if (stage === 0) return tf.neg(t.lld) as tf.Scalar;
      const yLoss: tf.Scalar = tf.mean(
        tf.abs(tf.sub(tf.reshape(t.preds, [-1]), tf.tensor1d(batch.labels))),
      );
      scalars.y = tf.keep(yLoss);
      let Hsum: tf.Scalar | null = null;
      for (const [pair, z] of Object.entries(t.projections) as [PairName, tf.Tensor2D][]) {
        const r = entropyTerm(
          z,
          batch.labels,
          useMemory ? (this.memory[pair] ?? null) : null,
          model.config.entropy_jitter,
        );
        nextMemory[pair] = r.next;
        if (r.skipReason !== null) entropySkipped++;
        if (r.H !== null) Hsum = Hsum === null ? r.H : (tf.add(Hsum, r.H) as tf.Scalar);
      }
      // A pair whose entropy was dropped leaves H out of this step's loss altogether.
      if (Hsum !== null && entropySkipped === 0) scalars.H = tf.keep(Hsum);
      // A new tensor: `yLoss` itself is kept for the report and must outlive `value`.
      if (!opt.contrast) return tf.mul(yLoss, 1) as tf.Scalar;
      let loss: tf.Scalar = tf.sub(
        tf.add(yLoss, tf.mul(t.nce, opt.alpha)),
        tf.mul(t.lld, opt.beta),
      ) as tf.Scalar;
      if (hInLoss && scalars.H !== null)
        loss = tf.sub(loss, tf.mul(scalars.H, opt.beta)) as tf.Scalar;
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
    const host = new Map<ParamName, Float32Array>();
    for (const [varName, g] of Object.entries(grads)) {
      host.set(model.paramOfVariable(varName), Float32Array.from(g.dataSync() as Float32Array));
      g.dispose();
    }
    const read = (s: tf.Scalar | null): number | null => {
      if (s === null) return null;
      const x = s.dataSync()[0] ?? Number.NaN;
      s.dispose();
      return x;
    };
    const loss = value.dataSync()[0] ?? Number.NaN;
    value.dispose();
    return this.applyGradients(
      host,
      {
        loss,
        yLoss: read(scalars.y),
        lld: read(scalars.lld) ?? Number.NaN,
        nce: read(scalars.nce) ?? Number.NaN,
        H: read(scalars.H),
        entropySkipped,
      },
      stage === 1 ? nextMemory : undefined,
    );
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

  /**
   * The second half of a step, shared by the single-worker and the data-parallel paths: given
   * the (summed) gradients of the whole batch, apply PyTorch's None/zero bookkeeping, the
   * padding row, the non-finite guard, accumulation, clipping and the current stage's Adam.
   * `nextMemory` replaces the entropy memory (stage 1).
   */
  applyGradients(
    computed: Map<ParamName, Float32Array>,
    values: Omit<StepReport, 'stage' | 'batchIndex' | 'gradNorm' | 'skippedNonFinite' | 'stepped'>,
    nextMemory?: Partial<Record<PairName, EntropyMemory>>,
  ): StepReport {
    const { model, opt } = this;
    const stage = this.stage;
    if (nextMemory !== undefined && stage === 1) this.memory = nextMemory;
    const host = new Map<ParamName, Float32Array | undefined>(computed);
    for (const name of computed.keys()) this.gradComputed.add(name);
    // HF's word embedding has padding_idx = pad_token_id: its row never receives a gradient.
    const wordEmb = host.get(WORD_EMBEDDINGS);
    if (wordEmb !== undefined) {
      const H = model.config.bert.hidden_size;
      const pad = model.config.bert.pad_token_id;
      wordEmb.fill(0, pad * H, (pad + 1) * H);
    }
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
    const optimizer = stage === 0 ? this.mmilbOptimizer : this.mainOptimizer;
    const changed = optimizer.step(model.host, stepGrads, clipFactor(report.gradNorm, opt.clip));
    model.syncToDevice(changed);
    report.stepped = true;
    return report;
  }
}

let textLeafCounter = 0;

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
