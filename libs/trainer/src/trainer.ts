/**
 * MMIM's whole training procedure on one worker (MMIM.md, "Training procedure"): per epoch,
 * stage 0 (MMILB, `-lld`; on MOSEI the first half of the batches), stage 1 (task + CPC + MMILB
 * terms), evaluation on valid and test with every metric, ReduceLROnPlateau on the valid loss,
 * model selection (valid only by default; `reference_selection` reproduces the reference's
 * test-peeking rule), early stopping, and a checkpoint at every epoch end from which training
 * resumes exactly. The distributed worker runs this same code on its rank's slices.
 */
import path from 'node:path';
import fs from 'node:fs';
import { rankRange, type MsaDataset, type SplitName } from '@mmim/data';
import {
  MmimModel,
  ShardedAdam,
  TwoStageStepper,
  dataParallelStep,
  isShardedGroup,
  saveMmimWeights,
  sizeOf,
  type RankGroup,
  type ShardedRankGroup,
  type BertConfig,
  type MmimBatch,
  type ParamName,
  sentimentMetrics,
  type SentimentMetrics,
  type StepReport,
} from '@mmim/model';
import { TrainerConfigError, type TrainerConfig } from './config.js';
import {
  CHECKPOINT_VERSION,
  loadTrainingCheckpoint,
  restoreOptimizer,
  saveTrainingCheckpoint,
  snapshotOptimizer,
  type TrainerState,
} from './checkpoint.js';
import { modelConfigFor } from './model-config.js';
import { EarlyStopping, ReduceLROnPlateau } from './schedulers.js';
import { TextFeatureCache } from './feature-cache.js';
import type { EpochCursor, LiveSnapshot, LiveStateSink, TrainerCursor } from './live.js';

/** Where batches come from: index lists per epoch, and the batch for a list of rows. */
export interface BatchProvider {
  batchIndices(split: SplitName, epoch: number): number[][];
  batch(split: SplitName, indices: readonly number[]): MmimBatch;
}

export interface EvalResult extends SentimentMetrics {
  /** The reference's "loss": mean L1 over the split (= MAE). */
  loss: number;
}

export interface EpochRecord {
  epoch: number;
  trainLoss: { stage0: number | null; stage1: number };
  valid: EvalResult;
  test: EvalResult;
  lr: Record<string, number>;
  improved: boolean;
  selected: boolean;
  entropySkipped: number;
  nonFiniteSteps: number;
  seconds: number;
}

export type TrainerEvent =
  | {
      type: 'step';
      epoch: number;
      index: number;
      of: number;
      report: StepReport;
      ms: number;
      /** Rows of the global batch (every rank's rows when distributed). */
      samples: number;
    }
  | { type: 'epoch'; record: EpochRecord }
  | { type: 'checkpoint'; path: string; kind: 'last' | 'best' }
  | { type: 'stopped'; epoch: number; reason: 'early-stopping' | 'max-epochs' };

export interface TrainerOptions {
  config: TrainerConfig;
  data: MsaDataset;
  batches: BatchProvider;
  bert: BertConfig;
  /** Starting weights (BERT from a checkpoint, or a whole MMIM state dict for --init). */
  init?: Map<ParamName, Float32Array>;
  /** Checkpoints go here: last.safetensors (every epoch) and best.safetensors. */
  outDir?: string;
  onEvent?: (e: TrainerEvent) => void;
  /**
   * Awaited after each checkpoint file is written, before the next epoch starts (a worker
   * copies the file to shared storage here, so a resume never finds an older epoch than the
   * one just reported as checkpointed).
   */
  onCheckpoint?: (c: { path: string; kind: 'last' | 'best'; epoch: number }) => Promise<void>;
  /**
   * Synchronous data parallelism: this trainer is rank `rank` of `worldSize`. Each global
   * batch's rows are split with the data lib's `rankRange`; this rank builds only its rows and
   * takes the exact data-parallel step (`dataParallelStep`), so every rank ends each step with
   * the parameters one trainer would have on the whole batch.
   */
  distributed?: DistributedOptions;
}

export interface DistributedOptions {
  rank: number;
  worldSize: number;
  /**
   * A replicated group (every rank sums every gradient and steps every parameter) or an
   * owner-sharded one (each rank steps the pieces it owns and publishes them).
   */
  group: RankGroup | ShardedRankGroup;
  /** With a sharded group: where the cursor goes after each step (the live state). */
  live?: LiveStateSink;
}

export interface TrainResult {
  history: EpochRecord[];
  best: TrainerState['best'];
  /** Metrics of the selected epoch (null when no epoch was selected). */
  bestTest: EvalResult | null;
  bestValid: EvalResult | null;
}

/** A model's predictions for a whole split, in dataset row order (evaluation mode). */
export async function predictSplit(
  model: MmimModel,
  batches: BatchProvider,
  split: SplitName,
  size: number,
): Promise<Float32Array> {
  const out = new Float32Array(size);
  for (const indices of batches.batchIndices(split, 0)) {
    const preds = await model.predict(batches.batch(split, indices));
    indices.forEach((row, k) => (out[row] = preds[k] ?? Number.NaN));
  }
  return out;
}

export class Trainer {
  readonly model: MmimModel;
  readonly stepper: TwoStageStepper;
  /** Where batches come from (through the text feature cache when BERT is frozen). */
  readonly batches: BatchProvider;
  private readonly plateau: ReduceLROnPlateau;
  private readonly earlyStop: EarlyStopping;
  private state: TrainerState;
  /** The epoch in progress to continue (a trainer resumed from the live state). */
  private resumeAt: { epoch: EpochCursor; stage: TrainerCursor['stage'] } | null = null;
  private liveStarted = false;

  constructor(private readonly opts: TrainerOptions) {
    const c = opts.config;
    if (opts.distributed !== undefined) checkDistributed(c, opts.distributed);
    const train = opts.data.splits.train;
    const modelConfig = modelConfigFor(
      c,
      { visual: train.visualDim, acoustic: train.acousticDim },
      opts.bert,
    );
    const init = MmimModel.initialize(modelConfig, c.seed);
    if (opts.init !== undefined) init.loadStateDict(opts.init, false);
    this.model = init;
    const group = opts.distributed?.group;
    const sharding =
      group !== undefined && isShardedGroup(group)
        ? group.shardFor(
            init
              .trainableVariables()
              .map((v) => init.paramOfVariable(v.name))
              .map((name) => ({ name, size: sizeOf(init.spec(name).shape) })),
          )
        : undefined;
    this.stepper = new TwoStageStepper(
      this.model,
      {
        lr_main: c.lr_main,
        lr_bert: c.lr_bert,
        lr_mmilb: c.lr_mmilb,
        weight_decay_main: c.weight_decay_main,
        weight_decay_bert: c.weight_decay_bert,
        weight_decay_club: c.weight_decay_club,
        clip: c.clip,
        alpha: c.alpha,
        beta: c.beta,
        contrast: c.contrast,
        seed: c.seed,
        zeroGradToNone: c.zero_grad_to_none,
        textMicroBatch: c.text_encoder.micro_batch,
        updateBatch: c.update_batch,
      },
      sharding,
    );
    this.batches = c.text_encoder.freeze
      ? new TextFeatureCache(opts.batches, this.model, opts.data)
      : opts.batches;
    this.plateau = new ReduceLROnPlateau(c.when);
    this.earlyStop = new EarlyStopping(c.patience);
    this.state = {
      version: CHECKPOINT_VERSION,
      config: c,
      epoch: 0,
      globalStep: 0,
      gradComputed: [],
      plateau: this.plateau.state,
      earlyStop: this.earlyStop.state,
      best: null,
      history: [],
      stopped: false,
    };
  }

  /** A trainer that continues from a checkpoint written by `run()`. */
  static async resume(
    checkpoint: string,
    opts: Omit<TrainerOptions, 'config' | 'init'>,
  ): Promise<Trainer> {
    const ckpt = await loadTrainingCheckpoint(checkpoint);
    const trainer = new Trainer({ ...opts, config: ckpt.state.config });
    trainer.model.loadStateDict(new Map([...ckpt.weights].map(([k, w]) => [k, w.data])));
    restoreOptimizer(trainer.stepper.mmilbOptimizer, ckpt.optimizers.mmilb);
    restoreOptimizer(trainer.stepper.mainOptimizer, ckpt.optimizers.main);
    trainer.stepper.globalStep = ckpt.state.globalStep;
    for (const name of ckpt.state.gradComputed) trainer.stepper.gradComputed.add(name);
    trainer.plateau.state = { ...ckpt.state.plateau };
    trainer.earlyStop.state = { ...ckpt.state.earlyStop };
    trainer.state = {
      ...ckpt.state,
      plateau: trainer.plateau.state,
      earlyStop: trainer.earlyStop.state,
    };
    return trainer;
  }

  /**
   * A sharded data-parallel trainer that continues from the live state (mid-epoch): the
   * trainable parameters and this rank's moments from the snapshot, the rest (frozen layers)
   * from `opts.init` as at the start.
   */
  static async resumeLive(
    snapshot: LiveSnapshot,
    opts: Omit<TrainerOptions, 'config'>,
  ): Promise<Trainer> {
    const { cursor } = snapshot;
    const trainer = new Trainer({ ...opts, config: cursor.state.config });
    const sharding = trainer.stepper.sharding;
    if (sharding === null) throw new Error('resumeLive: needs a sharded rank group');
    trainer.model.loadStateDict(snapshot.params, false);
    await snapshot.loadMoments(sharding.shard);
    const restore = (
      opt: ShardedAdam,
      steps: Record<ParamName, number>,
      lrs: Record<string, number>,
    ) => {
      opt.writeStepCounts(steps);
      for (const g of opt.groups) {
        const lr = lrs[g.name];
        if (lr !== undefined) g.lr = lr;
      }
    };
    restore(trainer.stepper.mmilbOptimizer as ShardedAdam, cursor.steps.mmilb, cursor.lrs.mmilb);
    restore(trainer.stepper.mainOptimizer as ShardedAdam, cursor.steps.main, cursor.lrs.main);
    trainer.stepper.globalStep = cursor.state.globalStep;
    for (const name of cursor.state.gradComputed) trainer.stepper.gradComputed.add(name);
    trainer.plateau.state = { ...cursor.state.plateau };
    trainer.earlyStop.state = { ...cursor.state.earlyStop };
    trainer.state = {
      ...cursor.state,
      plateau: trainer.plateau.state,
      earlyStop: trainer.earlyStop.state,
    };
    if (cursor.epoch !== null) trainer.resumeAt = { epoch: cursor.epoch, stage: cursor.stage };
    return trainer;
  }

  /** The optimiser step the trainer stands at (both stages' steps). */
  get globalStep(): number {
    return this.stepper.globalStep;
  }

  get epochsDone(): number {
    return this.state.epoch;
  }

  /** Every finished epoch so far (restored ones included after `resume`). */
  get history(): readonly EpochRecord[] {
    return this.state.history;
  }

  /** Train until `upToEpoch` (default: num_epochs) or early stopping. */
  async run(upToEpoch = this.opts.config.num_epochs): Promise<TrainResult> {
    const c = this.opts.config;
    if (this.batches instanceof TextFeatureCache) await this.batches.prepare();
    await this.startLive();
    let bestValid: EvalResult | null = null;
    let bestTest: EvalResult | null = null;
    while (!this.state.stopped && this.state.epoch < Math.min(upToEpoch, c.num_epochs)) {
      const epoch = this.state.epoch + 1;
      // A trainer resumed from the live state continues the epoch it stood in.
      const at = this.resumeAt?.epoch.epoch === epoch ? this.resumeAt : null;
      this.resumeAt = null;
      const progress: EpochCursor = at?.epoch ?? {
        epoch,
        stage: c.contrast ? 0 : 1,
        nextBatch: 0,
        stage0Loss: null,
        total: 0,
        samples: 0,
        entropySkipped: 0,
        nonFinite: 0,
        seconds: 0,
      };
      const started = performance.now() - progress.seconds * 1000;
      if (c.contrast && progress.stage === 0) {
        progress.stage0Loss = await this.runStage(progress, started, at?.stage ?? null);
        Object.assign(progress, { stage: 1, nextBatch: 0, total: 0, samples: 0 });
        await this.runStage(progress, started, null);
      } else {
        await this.runStage(progress, started, at?.stage ?? null);
      }
      const stage0 = progress.stage0Loss;
      const stage1 = progress.samples === 0 ? Number.NaN : progress.total / progress.samples;
      // Every rank evaluates the whole valid and test splits: the forward pass is deterministic
      // (no dropout) and the parameters are identical on every rank, so each rank computes the
      // same metrics and takes the same plateau / early-stopping / selection decisions without
      // exchanging anything. The price is K-fold redundant evaluation forward passes.
      const valid = await this.evaluate('valid');
      const test = await this.evaluate('test');
      const factor = this.plateau.step(valid.loss);
      if (factor < 1) {
        for (const g of this.stepper.mainOptimizer.groups)
          g.lr = ReduceLROnPlateau.reduced(g.lr, factor);
      }
      const improved = this.earlyStop.update(valid.loss);
      const best = this.state.best;
      const selected =
        improved && (!c.reference_selection || best === null || test.loss < best.testMae);
      if (selected) {
        this.state.best = { epoch, validMae: valid.loss, testMae: test.loss };
        bestValid = valid;
        bestTest = test;
      }
      const record: EpochRecord = {
        epoch,
        trainLoss: { stage0, stage1 },
        valid,
        test,
        lr: Object.fromEntries(this.stepper.mainOptimizer.groups.map((g) => [g.name, g.lr])),
        improved,
        selected,
        entropySkipped: progress.entropySkipped,
        nonFiniteSteps: progress.nonFinite,
        seconds: (performance.now() - started) / 1000,
      };
      this.state.history.push(record);
      this.state.epoch = epoch;
      this.syncState();
      if (this.earlyStop.shouldStop) this.state.stopped = true;
      this.emit({ type: 'epoch', record });
      await this.writeCheckpoints(selected);
      await this.commitLive(null, 0);
      if (this.state.stopped) this.emit({ type: 'stopped', epoch, reason: 'early-stopping' });
    }
    if (!this.state.stopped && this.state.epoch >= c.num_epochs)
      this.emit({ type: 'stopped', epoch: this.state.epoch, reason: 'max-epochs' });
    // Leave `model.host` current for callers (a device optimiser keeps it behind until read).
    await this.model.pullToHost();
    const sel =
      this.state.best === null
        ? null
        : this.state.history.find((h) => h.epoch === this.state.best?.epoch);
    return {
      history: this.state.history,
      best: this.state.best,
      bestValid: bestValid ?? sel?.valid ?? null,
      bestTest: bestTest ?? sel?.test ?? null,
    };
  }

  private syncState(): void {
    this.state.globalStep = this.stepper.globalStep;
    this.state.gradComputed = [...this.stepper.gradComputed];
  }

  /** Once per run, before the first step: the live state's copy for this group (sharded). */
  private async startLive(): Promise<void> {
    const live = this.opts.distributed?.live;
    if (live === undefined || this.liveStarted) return;
    this.liveStarted = true;
    const at = this.resumeAt;
    const cursor = live.writesCursor
      ? await this.cursor(at?.epoch ?? null, at === null ? 0 : -1, at?.stage ?? null)
      : null;
    await live.start(cursor, this.model.host);
  }

  /**
   * Where training stands, for the live state. `elapsedFrom` is the epoch's start (ms, as
   * performance.now()); -1 keeps the cursor's own seconds.
   */
  private async cursor(
    epoch: EpochCursor | null,
    elapsedFrom: number,
    stage: TrainerCursor['stage'] = null,
  ): Promise<TrainerCursor> {
    this.syncState();
    const mmilb = this.stepper.mmilbOptimizer as ShardedAdam;
    const main = this.stepper.mainOptimizer as ShardedAdam;
    const lrs = (opt: ShardedAdam) => Object.fromEntries(opt.groups.map((g) => [g.name, g.lr]));
    return {
      state: structuredClone(this.state),
      epoch:
        epoch === null
          ? null
          : {
              ...epoch,
              seconds: elapsedFrom < 0 ? epoch.seconds : (performance.now() - elapsedFrom) / 1000,
            },
      stage: epoch === null ? null : (stage ?? (await this.stepper.stageCursor())),
      steps: { mmilb: mmilb.stepCounts(), main: main.stepCounts() },
      lrs: { mmilb: lrs(mmilb), main: lrs(main) },
    };
  }

  /** Record the cursor in the live state (sharded groups; only between optimiser steps). */
  private async commitLive(epoch: EpochCursor | null, started: number): Promise<void> {
    const live = this.opts.distributed?.live;
    if (live === undefined || !this.stepper.atStepBoundary) return;
    await live.commit(live.writesCursor ? await this.cursor(epoch, started) : null);
  }

  /**
   * One pass of a stage over the training set, from `progress.nextBatch` on, adding to its
   * running sums; returns the stage's mean loss (per sample).
   */
  private async runStage(
    progress: EpochCursor,
    started: number,
    resumed: TrainerCursor['stage'],
  ): Promise<number> {
    const c = this.opts.config;
    const { epoch, stage } = progress;
    let lists = this.batches.batchIndices('train', epoch);
    // The reference: on MOSEI, stage 0 breaks at the first batch with i / len >= 0.5.
    if (stage === 0 && c.dataset === 'mosei')
      lists = lists.filter((_, i) => i / lists.length < 0.5);
    if (c.max_batches_per_stage !== null) lists = lists.slice(0, c.max_batches_per_stage);
    if (resumed !== null && resumed.stage === stage) this.stepper.restoreStage(resumed);
    else this.stepper.beginStage(stage);
    for (let i = progress.nextBatch; i < lists.length; i++) {
      const indices = lists[i] ?? [];
      const { report, ms } = await this.trainStep(indices);
      progress.entropySkipped += report.entropySkipped;
      if (report.skippedNonFinite) progress.nonFinite++;
      else {
        // The reported loss is the global batch's on every rank.
        progress.total += report.loss * indices.length;
        progress.samples += indices.length;
      }
      progress.nextBatch = i + 1;
      this.emit({
        type: 'step',
        epoch,
        index: i,
        of: lists.length,
        report,
        ms,
        samples: indices.length,
      });
      await this.commitLive(progress, started);
    }
    return progress.samples === 0 ? Number.NaN : progress.total / progress.samples;
  }

  /** One optimiser step on the global batch `indices` (this rank's rows of it when distributed). */
  private async trainStep(indices: readonly number[]): Promise<{ report: StepReport; ms: number }> {
    const d = this.opts.distributed;
    if (d === undefined) {
      const batch = this.batches.batch('train', indices);
      const t0 = performance.now();
      const report = await this.stepper.step(batch);
      return { report, ms: performance.now() - t0 };
    }
    const [from, to] = rankRange(indices.length, d.rank, d.worldSize);
    if (from === to) {
      throw new TrainerConfigError(
        `batch_size: a global batch of ${indices.length} rows leaves rank ${d.rank} of ${d.worldSize} without rows; ` +
          `every batch (the last, partial one included) needs at least world size rows`,
      );
    }
    const t0 = performance.now();
    const batch = this.batches.batch('train', indices.slice(from, to));
    const report = await dataParallelStep(
      this.stepper,
      { batch, offset: from, globalSize: indices.length },
      d.group,
    );
    return { report, ms: performance.now() - t0 };
  }

  /** Predictions for a whole split in dataset order (evaluation mode: no dropout). */
  predict(split: SplitName): Promise<Float32Array> {
    return predictSplit(this.model, this.batches, split, this.opts.data.splits[split].size);
  }

  async evaluate(split: SplitName): Promise<EvalResult> {
    const preds = await this.predict(split);
    const m = sentimentMetrics(preds, this.opts.data.splits[split].labels);
    return { ...m, loss: m.mae };
  }

  private async writeCheckpoints(selected: boolean): Promise<void> {
    const dir = this.opts.outDir;
    if (dir === undefined) return;
    fs.mkdirSync(dir, { recursive: true });
    const last = path.join(dir, 'last.safetensors');
    // A device optimiser leaves the host copy behind the variables: read them back once here.
    await this.model.pullToHost();
    const optimizers = {
      mmilb: await snapshotOptimizer(this.stepper.mmilbOptimizer),
      main: await snapshotOptimizer(this.stepper.mainOptimizer),
    };
    await saveTrainingCheckpoint(last, {
      modelConfig: this.model.config,
      weights: new Map(
        this.model.specs.map((s) => [
          s.name,
          { shape: s.shape, data: this.model.host.get(s.name) ?? new Float32Array(0) },
        ]),
      ),
      optimizers,
      state: this.state,
    });
    this.emit({ type: 'checkpoint', path: last, kind: 'last' });
    await this.opts.onCheckpoint?.({ path: last, kind: 'last', epoch: this.state.epoch });
    if (selected) {
      const best = path.join(dir, 'best.safetensors');
      await saveMmimWeights(best, this.model, {
        epoch: String(this.state.epoch),
        selection: this.opts.config.reference_selection ? 'reference' : 'valid',
      });
      this.emit({ type: 'checkpoint', path: best, kind: 'best' });
      await this.opts.onCheckpoint?.({ path: best, kind: 'best', epoch: this.state.epoch });
    }
  }

  private emit(e: TrainerEvent): void {
    this.opts.onEvent?.(e);
  }

  dispose(): void {
    this.stepper.dispose();
    this.model.dispose();
  }
}

/**
 * Options the data-parallel step cannot honour are refused up front, naming the key.
 * (`update_batch` is fine: the summed gradients accumulate in `applyGradients` on every rank.)
 */
function checkDistributed(c: TrainerConfig, d: DistributedOptions): void {
  if (!(Number.isInteger(d.worldSize) && d.worldSize >= 1))
    throw new TrainerConfigError(
      `distributed.worldSize must be an integer >= 1, got ${d.worldSize}`,
    );
  if (!(Number.isInteger(d.rank) && d.rank >= 0 && d.rank < d.worldSize))
    throw new TrainerConfigError(`distributed.rank ${d.rank} outside [0, ${d.worldSize})`);
  if (c.text_encoder.micro_batch > 0) {
    throw new TrainerConfigError(
      `text_encoder.micro_batch: BERT micro-batching is not supported with data-parallel training ` +
        `(each rank already runs only its share of the batch); set it to 0`,
    );
  }
  if (c.batch_size < d.worldSize) {
    throw new TrainerConfigError(
      `batch_size ${c.batch_size} is smaller than the world size ${d.worldSize}: some ranks would get no rows`,
    );
  }
}
