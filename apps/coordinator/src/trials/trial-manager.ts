/**
 * Runs trials on workers. This class wires the parts (each its own module and unit tests) to
 * the worker pool, the gang scheduler and the gRPC service, and restores what a previous
 * incarnation held when it starts:
 *
 * - dispatch.ts: trials from the durable queue to the gang scheduler when idle workers could
 *   take them (sweeps paused: parked);
 * - lifecycle.ts: placed, broken (a rank's worker lost: back in the queue, no attempt used,
 *   resumed from the last checkpoint), and every end (completed, pruned, failed after its
 *   attempts, cancelled, refused), store first, then the queue job;
 * - reports.ts: epoch reports and trial ends, checked (a worker only speaks for the trial and
 *   rank it runs) and handled in arrival order per trial;
 * - adoption.ts: after a restart, running trials are adopted when their workers reconnect and
 *   say so in their heartbeat, or re-queued when they do not come back in time;
 * - curve-buffer.ts: step curves written in batches;
 * - worker-view.ts: the workers as the dashboard shows them.
 */
import type {
  CheckpointStore,
  CurvePoint,
  ExperimentStoreApi,
  TrialId,
  TrialRecord,
  WorkerSnapshot,
} from '@mmim/experiments';
import { TERMINAL_TRIAL_STATES } from '@mmim/experiments';
import type { MetricPoint__Output } from '@mmim/protocol';
import type { Logger } from '@mmim/runtime';
import type { WorkerPool } from '../pool.js';
import type { EventEmitter } from 'node:events';
import type { RegistryServiceEvents } from '../registry-service.js';
import type { GangScheduler } from '../scheduler.js';
import { Adoptions } from './adoption.js';
import type { WorkersPerTrialLimit } from './admission.js';
import { TrialContext, type CheckpointLookup, type TrialHooks } from './context.js';
import { CurveBuffer } from './curve-buffer.js';
import { Dispatcher } from './dispatch.js';
import { TrialLifecycle } from './lifecycle.js';
import type { TrialQueueApi } from './queue-api.js';
import { ReportHandler } from './reports.js';
import { WorkerView } from './worker-view.js';

export type { EpochDecision, TrialHooks } from './context.js';

/** The events the manager listens to on the gRPC service (a WorkerRegistryService). */
export type ReportSource = EventEmitter<RegistryServiceEvents>;

export interface TrialManagerOptions {
  pool: WorkerPool;
  scheduler: GangScheduler;
  registry: ReportSource;
  queue: TrialQueueApi;
  store: ExperimentStoreApi;
  /** Where workers keep trial checkpoints (read to tell a resume from a fresh start). */
  checkpoints: CheckpointStore | CheckpointLookup;
  log: Logger;
  hooks?: TrialHooks;
  /** Attempts before a failing trial is dead-lettered; default 3. */
  defaultMaxAttempts?: number;
  /** How long after a restart running trials wait for their workers; default max(2 leases, 15 s). */
  adoptionGraceMs?: number;
  /** Curve points are written in batches this often; default 500 ms. */
  flushMs?: number;
  /**
   * Queued trials larger than this are refused (failed, the limit named) when this
   * coordinator starts: a limit lowered across a restart leaves no trial that can never run.
   */
  admission?: WorkersPerTrialLimit | null;
  /** Injected in tests. */
  now?: () => number;
}

export class TrialManager {
  readonly #ctx: TrialContext;
  readonly #admission: WorkersPerTrialLimit | null;
  readonly #adoptionGraceMs: number;
  readonly #flushMs: number;
  readonly dispatcher: Dispatcher;
  readonly lifecycle: TrialLifecycle;
  readonly adoptions: Adoptions;
  readonly reports: ReportHandler;
  readonly curves = new CurveBuffer();
  readonly workers: WorkerView;
  #timers: NodeJS.Timeout[] = [];
  #started = false;

  constructor(options: TrialManagerOptions) {
    const { pool, scheduler, registry } = options;
    this.#ctx = new TrialContext({
      pool,
      scheduler,
      queue: options.queue,
      store: options.store,
      checkpoints: options.checkpoints,
      log: options.log.child({ component: 'trials' }),
      defaultMaxAttempts: options.defaultMaxAttempts ?? 3,
      ...(options.now ? { now: options.now } : {}),
    });
    this.#ctx.hooks = options.hooks ?? null;
    this.#admission = options.admission ?? null;
    // Workers reconnect with a backoff of up to 5 s, plus registration: 15 s at least.
    this.#adoptionGraceMs = options.adoptionGraceMs ?? Math.max(2 * pool.leaseMs, 15_000);
    this.#flushMs = options.flushMs ?? 500;
    const ctx = this.#ctx;
    this.dispatcher = new Dispatcher(ctx);
    this.adoptions = new Adoptions(ctx, this.#adoptionGraceMs);
    this.lifecycle = new TrialLifecycle(
      ctx,
      () => this.pump(),
      (id) => {
        this.dispatcher.forget(id);
        this.adoptions.forget(id);
      },
    );
    this.reports = new ReportHandler(ctx, this.lifecycle, this.adoptions);
    this.workers = new WorkerView(pool, ctx.now);

    pool.on('idle', () => this.pump());
    pool.on('connected', () => this.pump());
    pool.on('heartbeat', (w, hb) => {
      // Until start() has read what the previous incarnation ran, nobody is an orphan.
      if (this.#started) this.adoptions.onHeartbeat(w, hb);
    });
    pool.on('lost', (w) => this.workers.rememberLost(w));
    scheduler.on('placed', (p) => void ctx.guard('placed', () => this.lifecycle.placed(p)));
    scheduler.on(
      'broken',
      (b) =>
        void ctx.guard('broken', () =>
          this.lifecycle.broken(b.trial.trialId, b.lostWorkerId, b.lostRank),
        ),
    );
    registry.on('epochReport', (w, r) => void this.reports.epoch(w, r));
    registry.on('trialEnded', (w, e) => void this.reports.ended(w, e));
    registry.on('metric', (p) => this.#onMetric(p));
  }

  setHooks(hooks: TrialHooks): void {
    this.#ctx.hooks = hooks;
  }

  /** While `gate` returns a reason, no new trial leaves the queue (the manager pumps each second). */
  setStartGate(gate: () => string | null): void {
    this.#ctx.startGate = gate;
  }

  /** Restores what a previous incarnation held and starts the timers. */
  async start(): Promise<void> {
    const { queue, store } = this.#ctx;
    await this.#reconcile();
    for (const job of queue.held()) {
      const trial = await store.getTrial(job.trialId);
      if (!trial || TERMINAL_TRIAL_STATES.includes(trial.state)) {
        await queue.complete(job.trialId, { note: 'already ended' });
      } else if (trial.state === 'running') {
        this.adoptions.expect(trial);
      } else {
        await this.dispatcher.dispatch(trial);
      }
    }
    const every = (ms: number, fn: () => Promise<void>): void => {
      const t = setInterval(() => void this.#ctx.guard('timer', fn), ms);
      t.unref();
      this.#timers.push(t);
    };
    every(this.#flushMs, () => this.curves.flush(store));
    every(Math.max(200, Math.floor(this.#adoptionGraceMs / 4)), () => this.checkAdoptions());
    every(1000, async () => this.pump());
    every(2000, () => this.workers.publish(store));
    this.#started = true;
    this.dispatcher.start();
    this.pump();
  }

  /**
   * Makes the trial records and the queue agree after a crash: a trial whose job was
   * dead-lettered is marked failed with the job's error; an unfinished trial without a job
   * (the coordinator died between recording and queueing it) is queued again, unless its
   * sweep is paused (resume re-queues it); a queued trial over the workers-per-trial limit is
   * refused.
   */
  async #reconcile(): Promise<void> {
    const { store, queue, hooks, log } = this.#ctx;
    const { trials } = await store.listTrials(null, {
      state: ['queued', 'running'],
      limit: 1_000_000,
    });
    for (const trial of trials) {
      const refusal =
        trial.state === 'queued'
          ? (this.#admission?.refusal(trial.workersPerTrial, 'workers per trial') ?? null)
          : null;
      if (refusal !== null) {
        await this.lifecycle.refuse(trial.id, refusal);
        continue;
      }
      const state = await queue.stateOf(trial.id);
      if (state === 'failed') {
        const reason = (await queue.failedReason(trial.id)) ?? 'failed';
        await this.lifecycle.finish(trial.id, 'failed', 'failed', reason, { error: reason });
      } else if (state === 'unknown' && (!hooks || (await hooks.mayStart(trial)))) {
        await queue.enqueue(
          { trialId: trial.id, sweepId: trial.sweepId, worldSize: trial.workersPerTrial },
          this.#ctx.defaultMaxAttempts,
        );
        log.info({ trialId: trial.id }, 'unfinished trial had no queue job: queued again');
      }
    }
  }

  /** Records a new trial and queues it (idempotent: an existing trial id is left alone). */
  submit(trial: TrialRecord, maxAttempts?: number): Promise<void> {
    return this.dispatcher.submit(trial, maxAttempts);
  }

  /** Takes trials from the queue while idle workers could take them. */
  pump(): void {
    this.dispatcher.pump();
  }

  /** Dispatches the parked trials of a sweep that was resumed. */
  resumeParked(sweepId: string): Promise<void> {
    return this.dispatcher.resumeParked(sweepId);
  }

  /** Ends a trial that has not finished: queued, parked, waiting for a gang, or running. */
  cancel(trialId: TrialId, reason: string): Promise<void> {
    return this.lifecycle.cancel(trialId, reason);
  }

  /** Early stop decided by the sweep's scheduler. */
  prune(trialId: TrialId, reason: string): Promise<void> {
    return this.lifecycle.prune(trialId, reason);
  }

  /** Takes a waiting trial out of the queue (sweep paused); false if it was not waiting. */
  unqueue(trialId: TrialId): Promise<boolean> {
    return this.dispatcher.unqueue(trialId);
  }

  /** Puts a queued trial back into the queue (sweep resumed); a no-op if its job exists. */
  requeueWaiting(trial: TrialRecord, maxAttempts?: number): Promise<void> {
    return this.dispatcher.requeueWaiting(trial, maxAttempts);
  }

  /** Gives up on adoptions past their deadline (run by a timer; tests call it directly). */
  async checkAdoptions(): Promise<void> {
    await this.adoptions.expire();
    if (this.adoptions.size === 0) this.pump();
  }

  workerSnapshots(): WorkerSnapshot[] {
    return this.workers.snapshots();
  }

  #onMetric(point: MetricPoint__Output): void {
    const worker = this.#ctx.pool.get(point.workerId);
    if (!worker || !this.reports.speaksFor(worker, point.trialId, point.rank)) return;
    if (!Number.isFinite(point.value)) return;
    if (point.name === 'train/samples_per_s') {
      this.workers.noteThroughput(point.trialId, point.value);
    }
    this.curves.add(point.trialId, {
      name: point.name,
      step: Number(point.step),
      value: point.value,
      at: Number(point.timestampMs) || this.#ctx.now(),
    });
  }

  async close(): Promise<void> {
    this.#ctx.closed = true;
    for (const t of this.#timers) clearInterval(t);
    await this.#ctx.guard('final flush', () => this.curves.flush(this.#ctx.store));
  }

  /** For tests and the CLI: the curve points not yet written. */
  pendingPoints(): number {
    return this.curves.pending;
  }
}

export type { CurvePoint };
