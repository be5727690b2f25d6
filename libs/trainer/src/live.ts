/**
 * The live state of a data-parallel trial with an owner-sharded optimiser: after every optimiser
 * step the owners have published their pieces (parameters and Adam moments) to the parameter
 * server, and rank 0 records where training stands (this cursor) next to them. A rank group
 * re-formed after a loss resumes from there, mid-epoch, instead of from the last epoch
 * checkpoint: the data order and dropout derive from (seed, epoch, step), so the cursor plus the
 * parameters and moments is the whole state.
 */
import type { OptimizerShard, ParamName, StageCursor } from '@mmim/model';
import type { TrainerState } from './checkpoint.js';

/** Where an epoch in progress stands (null between epochs). */
export interface EpochCursor {
  /** The epoch in progress (1-based). */
  epoch: number;
  stage: 0 | 1;
  /** The next batch of the stage's pass to run. */
  nextBatch: number;
  /** Stage 0's mean loss when the epoch is in stage 1 (null without contrast). */
  stage0Loss: number | null;
  /** The stage's running loss sum and sample count (its mean loss so far). */
  total: number;
  samples: number;
  entropySkipped: number;
  nonFinite: number;
  /** Seconds the epoch has taken so far. */
  seconds: number;
}

export interface TrainerCursor {
  state: TrainerState;
  epoch: EpochCursor | null;
  /** The stepper's stage (i_batch, entropy memory) when an epoch is in progress. */
  stage: StageCursor | null;
  steps: { mmilb: Record<ParamName, number>; main: Record<ParamName, number> };
  lrs: { mmilb: Record<string, number>; main: Record<string, number> };
}

/** Where a sharded trainer records its cursor (the rank group's live state). */
export interface LiveStateSink {
  /** Whether this rank writes the cursor (rank 0); the others skip building it. */
  readonly writesCursor: boolean;
  /**
   * Once, before the first step: every owner writes its pieces in full (a new attempt starts its
   * own copy) and the writer records `cursor`.
   */
  start(cursor: TrainerCursor | null, host: Map<ParamName, Float32Array>): Promise<void>;
  /** After an optimiser step or an epoch end (the pieces are already published). */
  commit(cursor: TrainerCursor | null): Promise<void>;
}

/** What a re-formed group reads back. */
export interface LiveSnapshot {
  cursor: TrainerCursor;
  /** Every trainable parameter's value (the frozen ones come from the config's init). */
  params: Map<ParamName, Float32Array>;
  /** Fills this rank's shard with its pieces' moments. */
  loadMoments(shard: OptimizerShard): Promise<void>;
}
