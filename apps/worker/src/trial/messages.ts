/**
 * What the trial thread and the main thread say to each other (structured-clone messages).
 * The main thread starts a spare thread ahead of time with a ThreadBoot as workerData (it loads
 * the code and the TF.js backend, which takes seconds, and posts `ready`); an assignment sends
 * it one StartTrial; the thread then posts ThreadMessages until its last one, `end`.
 */
import type { BackendChoice } from '@mmim/runtime';
import type { EpochRecord } from '@mmim/trainer';

export interface ThreadBoot {
  backend: BackendChoice;
}

export interface StartTrial {
  type: 'start';
  init: ThreadInit;
}

export interface ThreadInit {
  /** AssignTrial.config_json, parsed and validated in the thread (errors end the trial). */
  configJson: string;
  trialId: string;
  rank: number;
  worldSize: number;
  /** Redis for the rank group and the checkpoints; null: single rank, no stored checkpoints. */
  redisUrl: string | null;
  /** Redis for the per-step rank-group exchanges; null: redisUrl. */
  exchangeRedisUrl: string | null;
  /** Temp files of this trial go under here. */
  runDir: string;
  /** Collective timeout: how long a rank waits for a silent peer before failing. */
  collectiveTimeoutMs: number;
}

/** One curve point of a step (names: train/loss, lr/main, ps/bytes, ...). */
export interface CurvePoint {
  name: string;
  value: number;
}

export type ThreadMessage =
  | { type: 'ready' }
  | {
      type: 'note';
      note: 'resumed';
      /** Epochs done at the resume point. */
      epoch: number;
      /** Optimiser steps done at the resume point. */
      step: number;
      /** The live state in Redis (mid-epoch), or a checkpoint (an epoch end). */
      source: 'live' | 'checkpoint';
    }
  | {
      type: 'step';
      epoch: number;
      /** Optimiser steps taken so far in the trial (both stages). */
      step: number;
      stepTimeMs: number;
      samplesPerSecond: number;
      points: CurvePoint[];
    }
  | { type: 'epoch'; record: EpochRecord }
  | { type: 'checkpoint'; kind: 'last' | 'best'; epoch: number; bytes: number }
  | {
      type: 'end';
      outcome: 'COMPLETED' | 'FAILED';
      /** The error's message (the trial record shows it); its stack goes to the worker's log. */
      error: string;
      stack?: string;
      result: TrialSummary | null;
    };

/** TrialEnded.result_json (rank 0): the selected epoch and its metrics. */
export interface TrialSummary {
  epochs: number;
  bestEpoch: number | null;
  bestValid: EpochRecord['valid'] | null;
  bestTest: EpochRecord['test'] | null;
  /** Why training ended: every epoch ran, or early stopping. */
  stoppedBy: 'max-epochs' | 'early-stopping';
}
