/**
 * The experiment record: what the coordinator writes to Redis as sweeps and trials run, and
 * what the dashboard API and the CLI read. JSON-serialisable throughout.
 *
 * A sweep samples *configs*; each config runs once per seed, and each (config, seed) run is a
 * *trial* (the unit the queue dispatches and a worker group trains). Trials of one config
 * share a `configKey`; the sweep's objective for a config is the mean over its seeds.
 */

import type { MetricKey } from './metrics.js';

export type SweepId = string;
export type TrialId = string;
/** The stable key of one sampled configuration (shared by its per-seed trials). */
export type ConfigKey = string;
export type WorkerId = string;

export type SweepState = 'running' | 'paused' | 'cancelled' | 'finished';
/**
 * queued: waiting in the trial queue; running: placed on workers; completed: trained to the end
 * (or its own early stopping); pruned: stopped early by the sweep's scheduler (ASHA, median);
 * failed: its attempts ran out (dead letter, `error` kept); cancelled: its sweep was cancelled.
 */
export type TrialState = 'queued' | 'running' | 'completed' | 'pruned' | 'failed' | 'cancelled';

export const TERMINAL_TRIAL_STATES: readonly TrialState[] = [
  'completed',
  'pruned',
  'failed',
  'cancelled',
];

export type Goal = 'minimize' | 'maximize';

export interface MetricSpec {
  /** e.g. "valid.mae", "valid.acc2", "test.mae" (split.metric of an EpochRecord). */
  name: string;
  goal: Goal;
}

export interface SweepRecord {
  id: SweepId;
  name: string;
  state: SweepState;
  /** ms since epoch. */
  createdAt: number;
  updatedAt: number;
  metric: MetricSpec;
  /** The sweep file as parsed (JSON), kept for display and for rebuilding the sampler. */
  spec: Record<string, unknown>;
  /** Max number of configs (not trials) to sample. */
  runCap: number;
  seeds: number[];
  workersPerTrial: number;
  /** Best config so far by its mean objective over seeds that finished; null before any. */
  best: { configKey: ConfigKey; value: number; trialIds: TrialId[] } | null;
}

export interface TrialCounts {
  queued: number;
  running: number;
  completed: number;
  pruned: number;
  failed: number;
  cancelled: number;
}

/** Which worker ran which rank (the latest placement; earlier ones are in the events). */
export interface RankPlacement {
  rank: number;
  workerId: WorkerId;
  workerName: string;
}

/**
 * Per-epoch metrics of one split: the trainer's EvalResult under its own names plus every key
 * of the metric table (metrics.ts).
 */
export type SplitMetrics = Record<MetricKey, number> & { [extra: string]: number };

/** One finished epoch as the coordinator records it (from the worker's EpochReport). */
export interface EpochEntry {
  epoch: number;
  trainLoss: { stage0: number | null; stage1: number };
  valid: SplitMetrics;
  test: SplitMetrics;
  lr: Record<string, number>;
  seconds: number;
  /** ms since epoch, when the coordinator received it. */
  at: number;
}

export interface TrialRecord {
  id: TrialId;
  /** null for a lone `mmim train --workers K` trial. */
  sweepId: SweepId | null;
  /** 0-based order of creation within its sweep. */
  number: number;
  configKey: ConfigKey;
  /** The sampled hyperparameters only (what differs between trials). */
  params: Record<string, unknown>;
  seed: number;
  /** The whole trial spec the workers receive (trainer config, data source). */
  spec: Record<string, unknown>;
  state: TrialState;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
  /** Epochs finished so far. */
  epochs: number;
  /** The objective at the last finished epoch; null before the first. */
  lastValue: number | null;
  /** The best objective over finished epochs; null before the first. */
  bestValue: number | null;
  bestEpoch: number | null;
  workersPerTrial: number;
  placement: RankPlacement[];
  /** Dispatches so far (1 on the first run; +1 per retry or re-formed group). */
  attempts: number;
  /** The last failure's message (kept in the dead-letter state). */
  error: string | null;
  /** Epoch of the last checkpoint stored in Redis (CheckpointStore), null when none. */
  checkpointEpoch: number | null;
}

export type TrialEventType =
  | 'queued'
  | 'started'
  | 'epoch'
  | 'promoted'
  | 'pruned'
  | 'worker-lost'
  | 'requeued'
  | 'resumed'
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'paused';

export interface TrialEvent {
  at: number;
  type: TrialEventType;
  message: string;
}

/** A scalar series point (step curves: train/loss, train/nce, lr/main, ...). */
export interface CurvePoint {
  step: number;
  value: number;
  /** ms since epoch. */
  at: number;
}

/**
 * The GPU adapter a webgpu worker computes on, as the worker reported it at registration
 * (libs/runtime's GpuAdapterInfo, carried by the protocol's GpuAdapter message).
 */
export interface WorkerAdapter {
  /** May be empty (llvmpipe reports none). */
  vendor: string;
  architecture: string;
  /** The adapter's name, e.g. 'NVIDIA H200'. */
  device: string;
  description: string;
  /** How Dawn reaches it: 'vulkan' or 'opengles'. */
  route: string;
  /** A CPU rasteriser (llvmpipe, lavapipe, SwiftShader): correct, no faster than a CPU. */
  software: boolean;
  /** Null when the worker sent none. Sizes in bytes. */
  limits: {
    maxBufferSize: number;
    maxStorageBufferBindingSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
  } | null;
}

/** What the coordinator publishes about each worker (dashboard's Workers page). */
export interface WorkerSnapshot {
  id: WorkerId;
  name: string;
  state: 'idle' | 'training' | 'stopping' | 'lost';
  backend: string;
  device: string;
  /** The webgpu backend's adapter; null for every other backend. */
  adapter: WorkerAdapter | null;
  version: string;
  trialId: TrialId | null;
  rank: number | null;
  step: number;
  stepTimeMs: number;
  /** Samples per second of this worker's share, when known. */
  samplesPerSecond: number | null;
  lastHeartbeat: number;
  registeredAt: number;
}

/** Published on the change channel; the dashboard's SSE stream forwards these. */
export type ChangeEvent =
  | { kind: 'sweep'; sweepId: SweepId }
  | { kind: 'trial'; trialId: TrialId; sweepId: SweepId | null }
  | { kind: 'points'; trialId: TrialId; names: string[] }
  | { kind: 'workers' };
