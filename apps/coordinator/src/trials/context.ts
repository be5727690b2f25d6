/**
 * What the parts of the trial manager share (trials/*.ts, one job each): the worker pool and
 * gang scheduler, the durable queue, the experiment store, the sweep layer's hooks, and the two
 * helpers every part uses (record a trial event; run a handler whose error is logged, never
 * thrown). Built once by TrialManager; unit tests build it on the in-memory store and queue.
 */
import type {
  EpochEntry,
  ExperimentStoreApi,
  MetricSpec,
  TrialEventType,
  TrialId,
  TrialRecord,
} from '@mmim/experiments';
import type { Logger } from '@mmim/runtime';
import type { WorkerPool } from '../pool.js';
import type { GangScheduler } from '../scheduler.js';
import type { TrialQueueApi } from './queue-api.js';

export type EpochDecision = 'continue' | 'stop';

/** What the sweep layer adds: the objective, early stopping, bookkeeping when a trial ends. */
export interface TrialHooks {
  metricOf(trial: TrialRecord): Promise<MetricSpec>;
  onEpoch(trial: TrialRecord, entry: EpochEntry): Promise<EpochDecision>;
  onTrialEnd(trial: TrialRecord): Promise<void>;
  /** False while the trial's sweep is paused: it stays parked until `resumeParked`. */
  mayStart(trial: TrialRecord): Promise<boolean>;
}

/** Where a trial's last checkpoint is (read to tell a resume from a fresh start). */
export interface CheckpointLookup {
  info(trialId: TrialId, kind: 'last'): Promise<{ epoch: number } | null>;
}

export interface TrialContextDeps {
  pool: WorkerPool;
  scheduler: GangScheduler;
  queue: TrialQueueApi;
  store: ExperimentStoreApi;
  checkpoints: CheckpointLookup;
  log: Logger;
  /** Attempts before a failing trial is dead-lettered. */
  defaultMaxAttempts: number;
  /** Injected in tests. */
  now?: () => number;
}

export class TrialContext {
  readonly pool: WorkerPool;
  readonly scheduler: GangScheduler;
  readonly queue: TrialQueueApi;
  readonly store: ExperimentStoreApi;
  readonly checkpoints: CheckpointLookup;
  readonly log: Logger;
  readonly defaultMaxAttempts: number;
  readonly now: () => number;
  /** Set by the sweep layer after construction (it needs the manager first). */
  hooks: TrialHooks | null = null;
  /**
   * Why no trial may start now (Redis nearly full: redis-memory.ts), or null; new trials stay
   * in the queue meanwhile. Set by the control plane.
   */
  startGate: (() => string | null) | null = null;
  /** After close(): errors of handlers still running are expected and not logged. */
  closed = false;

  constructor(deps: TrialContextDeps) {
    this.pool = deps.pool;
    this.scheduler = deps.scheduler;
    this.queue = deps.queue;
    this.store = deps.store;
    this.checkpoints = deps.checkpoints;
    this.log = deps.log;
    this.defaultMaxAttempts = deps.defaultMaxAttempts;
    this.now = deps.now ?? Date.now;
  }

  async event(trialId: TrialId, type: TrialEventType, message: string): Promise<void> {
    await this.store.addEvent(trialId, { at: this.now(), type, message });
  }

  /** Runs an async handler; an error is logged with its stack and what was being done. */
  async guard(what: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (this.closed) return;
      this.log.error({ err, what }, 'trial handling failed');
    }
  }
}
