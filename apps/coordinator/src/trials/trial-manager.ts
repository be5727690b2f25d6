/**
 * Runs trials on workers: takes them from the durable queue when a gang of idle workers can
 * take them, tells the workers (through the gang scheduler), records what the workers report
 * (epochs, curves, ends) in the experiment store, and handles what goes wrong:
 *
 * - a rank's worker is lost: the trial goes back to the queue without using up an attempt and
 *   is placed again on whatever workers are idle (K or a replacement); its workers resume from
 *   the last checkpoint in Redis, so the result equals an uninterrupted run's;
 * - a rank fails: the queue retries it until its attempts are used up (then: failed, the
 *   error kept);
 * - this coordinator restarts: the jobs it held are still held (persisted lock token); trials
 *   that were running are adopted when their workers reconnect and say so in their heartbeat,
 *   or re-queued when they do not come back within two leases.
 *
 * Every report is checked: a worker may only speak for the trial and rank it runs (or ran,
 * before a coordinator restart, under the same worker name).
 */
import type {
  CheckpointStore,
  CurvePoint,
  EpochEntry,
  ExperimentStoreApi,
  MetricSpec,
  RankPlacement,
  SplitMetrics,
  TrialEventType,
  TrialId,
  TrialRecord,
  WorkerAdapter,
  WorkerSnapshot,
} from '@mmim/experiments';
import { TERMINAL_TRIAL_STATES } from '@mmim/experiments';
import type {
  EpochReport__Output,
  GpuAdapter__Output,
  Heartbeat__Output,
  MetricPoint__Output,
  TrialEnded__Output,
} from '@mmim/protocol';
import type { Logger } from '@mmim/runtime';
import type { WorkerPool, WorkerRecord } from '../pool.js';
import type { WorkerRegistryService } from '../registry-service.js';
import type { GangScheduler, Placement } from '../scheduler.js';
import type { WorkersPerTrialLimit } from './admission.js';
import type { TrialQueue } from './trial-queue.js';

export type EpochDecision = 'continue' | 'stop';

/** What the sweep layer adds: the objective, early stopping, bookkeeping when a trial ends. */
export interface TrialHooks {
  metricOf(trial: TrialRecord): Promise<MetricSpec>;
  onEpoch(trial: TrialRecord, entry: EpochEntry): Promise<EpochDecision>;
  onTrialEnd(trial: TrialRecord): Promise<void>;
  /** False while the trial's sweep is paused: it stays parked until `resumeParked`. */
  mayStart(trial: TrialRecord): Promise<boolean>;
}

export interface TrialManagerOptions {
  pool: WorkerPool;
  scheduler: GangScheduler;
  registry: WorkerRegistryService;
  queue: TrialQueue;
  store: ExperimentStoreApi;
  /** Where workers keep trial checkpoints (read to tell a resume from a fresh start). */
  checkpoints: CheckpointStore;
  log: Logger;
  hooks?: TrialHooks;
  /** Attempts before a failing trial is dead-lettered. */
  defaultMaxAttempts?: number;
  /** How long after a restart running trials wait for their workers; default max(2 leases, 15 s). */
  adoptionGraceMs?: number;
  /** Curve points are written in batches this often. */
  flushMs?: number;
  /**
   * Queued trials larger than this are refused (failed, the limit named) when this
   * coordinator starts: a limit lowered across a restart leaves no trial that can never run.
   */
  admission?: WorkersPerTrialLimit | null;
}

/**
 * How many trials taken from the queue may wait in the gang scheduler at once (the head and
 * the trials that might backfill past it); the rest stay in the durable queue.
 */
const MAX_WAITING_IN_SCHEDULER = 8;

const DEFAULT_METRIC: MetricSpec = { name: 'valid.mae', goal: 'minimize' };

interface Adoption {
  trial: TrialRecord;
  workerIds: (string | null)[];
  deadline: number;
}

/**
 * The record's metric names are the reference's (acc2_non0, f1_has0, ...); the experiment
 * record adds the short names sweeps and the dashboard use: acc2/f1 = the non0 variants (the
 * paper's Acc-2 and F1: negative vs positive, zero labels left out), acc2NonNeg/f1NonNeg = the
 * has0 variants (negative vs non-negative, every sample).
 */
function withShortNames(m: Record<string, number>): SplitMetrics {
  const pick = (k: string): number => (typeof m[k] === 'number' ? m[k] : Number.NaN);
  return {
    ...m,
    loss: pick('loss'),
    mae: pick('mae'),
    corr: pick('corr'),
    acc2: m['acc2'] ?? pick('acc2_non0'),
    f1: m['f1'] ?? pick('f1_non0'),
    acc2NonNeg: m['acc2NonNeg'] ?? pick('acc2_has0'),
    f1NonNeg: m['f1NonNeg'] ?? pick('f1_has0'),
    acc5: pick('acc5'),
    acc7: pick('acc7'),
  };
}

/** The adapter a worker registered with, field by field (nothing else reaches the record). */
function adapterSnapshot(a: GpuAdapter__Output | null): WorkerAdapter | null {
  if (a === null) return null;
  const l = a.limits;
  return {
    vendor: a.vendor,
    architecture: a.architecture,
    device: a.device,
    description: a.description,
    route: a.route,
    software: a.software,
    limits:
      l === null
        ? null
        : {
            maxBufferSize: l.maxBufferSize,
            maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
            maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
            maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
          },
  };
}

/** The worker's view of a finished epoch (the trainer's EpochRecord, as JSON). */
function toEpochEntry(json: string, epoch: number): EpochEntry {
  const r = JSON.parse(json) as {
    valid?: Record<string, number>;
    test?: Record<string, number>;
    trainLoss?: EpochEntry['trainLoss'];
    lr?: Record<string, number>;
    seconds?: number;
  };
  if (typeof r !== 'object' || r === null || r.valid === undefined || r.test === undefined) {
    throw new Error('record_json lacks valid/test metrics');
  }
  return {
    epoch,
    trainLoss: r.trainLoss ?? { stage0: null, stage1: Number.NaN },
    valid: withShortNames(r.valid),
    test: withShortNames(r.test),
    lr: r.lr ?? {},
    seconds: r.seconds ?? 0,
    at: Date.now(),
  };
}

export class TrialManager {
  readonly #o: Required<Omit<TrialManagerOptions, 'hooks' | 'admission'>> & {
    hooks: TrialHooks | null;
    admission: WorkersPerTrialLimit | null;
  };
  readonly #log: Logger;
  /** Trials taken from the queue whose sweep is paused: they wait here, still held. */
  readonly #parked = new Map<TrialId, TrialRecord>();
  readonly #adopting = new Map<TrialId, Adoption>();
  readonly #points = new Map<
    TrialId,
    { name: string; step: number; value: number; at: number }[]
  >();
  /** Recently lost workers, shown on the dashboard for a while. */
  readonly #lost = new Map<string, WorkerSnapshot>();
  /** The last samples/s rank 0 reported per trial (its whole group's throughput). */
  readonly #throughput = new Map<TrialId, number>();
  #pumping = false;
  #pumpAgain = false;
  #timers: NodeJS.Timeout[] = [];
  #closed = false;
  #started = false;

  constructor(options: TrialManagerOptions) {
    this.#o = {
      defaultMaxAttempts: 3,
      // Workers reconnect with a backoff of up to 5 s, plus registration: 15 s at least.
      adoptionGraceMs: Math.max(2 * options.pool.leaseMs, 15_000),
      flushMs: 500,
      ...options,
      hooks: options.hooks ?? null,
      admission: options.admission ?? null,
    };
    this.#log = options.log.child({ component: 'trials' });
    const { pool, scheduler, registry } = options;
    pool.on('idle', () => this.pump());
    pool.on('connected', () => this.pump());
    pool.on('heartbeat', (w, hb) => this.#onHeartbeat(w, hb));
    pool.on('lost', (w) => this.#rememberLost(w));
    scheduler.on('placed', (p) => void this.#guard('placed', () => this.#onPlaced(p)));
    scheduler.on(
      'broken',
      (b) =>
        void this.#guard('broken', () =>
          this.#onBroken(b.trial.trialId, b.lostWorkerId, b.lostRank),
        ),
    );
    // One trial's reports are handled one after another, in arrival order: epoch n before
    // n + 1, every epoch before the trial's end.
    registry.on('epochReport', (w, r) =>
      this.#inOrder(r.trialId, () => this.#guard('epoch', () => this.#onEpoch(w, r))),
    );
    registry.on('trialEnded', (w, e) =>
      this.#inOrder(e.trialId, () => this.#guard('ended', () => this.#onEnded(w, e))),
    );
    registry.on('metric', (p) => this.#onMetric(p));
  }

  setHooks(hooks: TrialHooks): void {
    this.#o.hooks = hooks;
  }

  /** Restores what a previous incarnation held and starts the timers. */
  async start(): Promise<void> {
    await this.#reconcile();
    for (const job of this.#o.queue.held()) {
      const trial = await this.#o.store.getTrial(job.trialId);
      if (!trial || TERMINAL_TRIAL_STATES.includes(trial.state)) {
        await this.#o.queue.complete(job.trialId, { note: 'already ended' });
      } else if (trial.state === 'running') {
        this.#adopting.set(trial.id, {
          trial,
          workerIds: trial.placement.map(() => null),
          deadline: Date.now() + this.#o.adoptionGraceMs,
        });
        this.#log.info({ trialId: trial.id }, 'waiting for the workers of a running trial');
      } else {
        await this.#dispatch(trial);
      }
    }
    const every = (ms: number, fn: () => Promise<void>): void => {
      const t = setInterval(() => void this.#guard('timer', fn), ms);
      t.unref();
      this.#timers.push(t);
    };
    every(this.#o.flushMs, () => this.#flushPoints());
    every(Math.max(200, Math.floor(this.#o.adoptionGraceMs / 4)), () => this.#checkAdoptions());
    every(1000, async () => this.pump());
    every(2000, () => this.#publishWorkers());
    this.#started = true;
    this.pump();
  }

  /**
   * Makes the trial records and the queue agree after a crash: a trial whose job was
   * dead-lettered is marked failed with the job's error; an unfinished trial without a job
   * (the coordinator died between recording and queueing it) is queued again, unless its
   * sweep is paused (resume re-queues it).
   */
  async #reconcile(): Promise<void> {
    const { store, queue } = this.#o;
    const { trials } = await store.listTrials(null, {
      state: ['queued', 'running'],
      limit: 1_000_000,
    });
    for (const trial of trials) {
      const refusal =
        trial.state === 'queued'
          ? (this.#o.admission?.refusal(trial.workersPerTrial, 'workers per trial') ?? null)
          : null;
      if (refusal !== null) {
        await this.#refuse(trial.id, refusal);
        continue;
      }
      const state = await queue.stateOf(trial.id);
      if (state === 'failed') {
        const reason = (await queue.failedReason(trial.id)) ?? 'failed';
        await this.#finish(trial.id, 'failed', 'failed', reason, { error: reason });
      } else if (state === 'unknown' && (!this.#o.hooks || (await this.#o.hooks.mayStart(trial)))) {
        await queue.enqueue(
          { trialId: trial.id, sweepId: trial.sweepId, worldSize: trial.workersPerTrial },
          this.#o.defaultMaxAttempts,
        );
        this.#log.info({ trialId: trial.id }, 'unfinished trial had no queue job: queued again');
      }
    }
  }

  /** Ends a queued trial that can never be placed; its job leaves the queue (waiting or held). */
  async #refuse(trialId: TrialId, why: string): Promise<void> {
    const { queue } = this.#o;
    const wasWaiting = await queue.remove(trialId);
    const message = `refused: ${why}`;
    this.#log.warn({ trialId, reason: why }, 'queued trial refused at start');
    await this.#finish(trialId, 'failed', 'failed', message, { error: message }, () =>
      wasWaiting ? Promise.resolve() : queue.complete(trialId, { refused: why }),
    );
  }

  /** Records a new trial and queues it (idempotent: an existing trial id is left alone). */
  async submit(trial: TrialRecord, maxAttempts = this.#o.defaultMaxAttempts): Promise<void> {
    const existing = await this.#o.store.getTrial(trial.id);
    if (existing) return;
    await this.#o.store.putTrial(trial);
    await this.#event(trial.id, 'queued', `queued (${trial.workersPerTrial} worker(s))`);
    await this.#o.queue.enqueue(
      { trialId: trial.id, sweepId: trial.sweepId, worldSize: trial.workersPerTrial },
      maxAttempts,
    );
    this.pump();
  }

  /** Takes trials from the queue while idle workers remain and the gang head is placed. */
  pump(): void {
    if (this.#closed || !this.#started) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    void this.#guard('pump', async () => {
      try {
        do {
          this.#pumpAgain = false;
          await this.#pumpOnce();
        } while (this.#pumpAgain && !this.#closed);
      } finally {
        this.#pumping = false;
      }
    });
  }

  async #pumpOnce(): Promise<void> {
    const { scheduler, pool, queue, store } = this.#o;
    for (;;) {
      scheduler.pump();
      // A head that waits for busy workers lets later trials fill the idle ones (bounded
      // backfill, see GangScheduler), so more than one trial may wait in the scheduler; a
      // reserved head takes nothing more from the queue until it has its gang.
      if (scheduler.headReserved()) return;
      if (scheduler.pending().length >= MAX_WAITING_IN_SCHEDULER) return;
      if (pool.idleWorkers().length === 0) return;
      const job = await queue.take();
      if (!job) return;
      const trial = await store.getTrial(job.trialId);
      if (!trial || TERMINAL_TRIAL_STATES.includes(trial.state)) {
        await queue.complete(job.trialId, { note: 'already ended' });
        continue;
      }
      await this.#dispatch(trial);
    }
  }

  async #dispatch(trial: TrialRecord): Promise<void> {
    if (this.#o.hooks && !(await this.#o.hooks.mayStart(trial))) {
      this.#parked.set(trial.id, trial);
      return;
    }
    const attempt = trial.attempts + 1;
    const spec = { ...trial.spec, trialId: trial.id, attempt, seed: trial.seed };
    this.#o.scheduler.submit({
      trialId: trial.id,
      worldSize: trial.workersPerTrial,
      configJson: JSON.stringify(spec),
    });
  }

  /** Dispatches the parked trials of a sweep that was resumed. */
  async resumeParked(sweepId: string): Promise<void> {
    for (const [id, trial] of [...this.#parked]) {
      if (trial.sweepId !== sweepId) continue;
      this.#parked.delete(id);
      await this.#dispatch(trial);
    }
    this.pump();
  }

  /** Ends a trial that has not finished: queued, parked, waiting for a gang, or running. */
  async cancel(trialId: TrialId, reason: string): Promise<void> {
    const { queue, scheduler, store } = this.#o;
    const trial = await store.getTrial(trialId);
    if (!trial || TERMINAL_TRIAL_STATES.includes(trial.state)) return;
    this.#parked.delete(trialId);
    this.#adopting.delete(trialId);
    const wasWaiting = await queue.remove(trialId);
    if (!wasWaiting) {
      scheduler.cancel(trialId);
      scheduler.stopTrial(trialId, reason);
    }
    await this.#finish(trialId, 'cancelled', 'cancelled', reason, {}, () =>
      wasWaiting ? Promise.resolve() : queue.complete(trialId, { cancelled: reason }),
    );
  }

  /** Early stop decided by the sweep's scheduler. */
  async prune(trialId: TrialId, reason: string): Promise<void> {
    this.#o.scheduler.stopTrial(trialId, reason);
    await this.#finish(trialId, 'pruned', 'pruned', reason, {}, () =>
      this.#o.queue.complete(trialId, { pruned: reason }),
    );
  }

  /** Takes a waiting trial out of the queue (sweep paused); false if it was not waiting. */
  async unqueue(trialId: TrialId): Promise<boolean> {
    return this.#o.queue.remove(trialId);
  }

  /** Puts a queued trial back into the queue (sweep resumed); a no-op if its job exists. */
  async requeueWaiting(
    trial: TrialRecord,
    maxAttempts = this.#o.defaultMaxAttempts,
  ): Promise<void> {
    await this.#o.queue.enqueue(
      { trialId: trial.id, sweepId: trial.sweepId, worldSize: trial.workersPerTrial },
      maxAttempts,
    );
    this.pump();
  }

  /**
   * Records the end in the store FIRST, then settles the queue job: a coordinator killed in
   * between leaves an ended trial whose job is still active, which start() completes; the
   * other order would leave a completed job whose trial looks running forever.
   */
  async #finish(
    trialId: TrialId,
    state: 'completed' | 'pruned' | 'failed' | 'cancelled',
    event: TrialEventType,
    message: string,
    extra: Partial<TrialRecord> = {},
    settleJob: (() => Promise<unknown>) | null = null,
  ): Promise<void> {
    const trial = await this.#o.store.updateTrial(trialId, {
      state,
      endedAt: Date.now(),
      ...extra,
    });
    await this.#event(trialId, event, message);
    if (settleJob) await settleJob();
    this.#log.info({ trialId, state, message }, 'trial ended');
    await this.#o.hooks?.onTrialEnd(trial);
    this.pump();
  }

  async #onPlaced(p: Placement): Promise<void> {
    const { store, pool } = this.#o;
    const trial = await store.getTrial(p.trialId);
    if (!trial) return;
    if (TERMINAL_TRIAL_STATES.includes(trial.state)) {
      // Cancelled between leaving the queue and getting its gang: free the gang again.
      this.#o.scheduler.stopTrial(p.trialId, `trial is ${trial.state}`);
      return;
    }
    const placement: RankPlacement[] = p.workerIds.map((id, rank) => ({
      rank,
      workerId: id,
      workerName: pool.get(id)?.capabilities.workerName ?? id,
    }));
    const checkpoint = await this.#o.checkpoints.info(p.trialId, 'last');
    const resumed = checkpoint !== null;
    await store.updateTrial(p.trialId, {
      checkpointEpoch: checkpoint?.epoch ?? null,
      state: 'running',
      startedAt: trial.startedAt ?? Date.now(),
      attempts: trial.attempts + 1,
      placement,
      error: null,
    });
    const where = placement.map((r) => `rank ${r.rank} on ${r.workerName}`).join(', ');
    await this.#event(
      p.trialId,
      resumed ? 'resumed' : 'started',
      resumed
        ? `attempt ${trial.attempts + 1}: resuming after epoch ${checkpoint.epoch} (${where})`
        : `attempt ${trial.attempts + 1}: ${where}`,
    );
  }

  async #onBroken(trialId: TrialId, lostWorkerId: string, lostRank: number): Promise<void> {
    await this.#event(trialId, 'worker-lost', `rank ${lostRank} (worker ${lostWorkerId}) was lost`);
    await this.#o.store.updateTrial(trialId, { state: 'queued', placement: [] });
    await this.#o.queue.requeue(trialId);
    await this.#event(
      trialId,
      'requeued',
      'back in the queue; it resumes from its last checkpoint',
    );
    this.pump();
  }

  /**
   * May this worker report for this trial and rank? Yes when it runs it now; also when the
   * trial's recorded placement names this worker (by its stable name) for that rank and no
   * group of ours runs it: reports a worker kept while this coordinator was down.
   */
  #speaksFor(
    worker: WorkerRecord,
    trialId: string,
    rank: number,
    record: TrialRecord | null = null,
  ): boolean {
    const a = worker.assignment;
    if (a && a.trialId === trialId && a.rank === rank) return true;
    const name = worker.capabilities.workerName;
    const adoption = this.#adopting.get(trialId);
    if (adoption) return adoption.trial.placement[rank]?.workerName === name;
    return (
      record !== null &&
      record.state === 'running' &&
      !this.#o.scheduler.isRunning(trialId) &&
      record.placement[rank]?.workerName === name
    );
  }

  async #onEpoch(worker: WorkerRecord, report: EpochReport__Output): Promise<void> {
    const { store } = this.#o;
    const trial = await store.getTrial(report.trialId);
    if (!this.#speaksFor(worker, report.trialId, report.rank, trial)) {
      this.#log.warn(
        { workerId: worker.id, trialId: report.trialId, rank: report.rank },
        'epoch report for a trial this worker does not run: ignored',
      );
      return;
    }
    if (!trial || TERMINAL_TRIAL_STATES.includes(trial.state)) return;
    // At least once from the worker: an epoch already recorded is a re-send.
    if (report.epoch <= trial.epochs) return;
    let entry: EpochEntry;
    try {
      entry = toEpochEntry(report.recordJson, report.epoch);
    } catch (err) {
      this.#log.warn(
        { workerId: worker.id, trialId: trial.id, err },
        'malformed epoch report: ignored',
      );
      return;
    }
    const metric = (await this.#o.hooks?.metricOf(trial)) ?? DEFAULT_METRIC;
    const updated = await store.addEpoch(trial.id, entry, metric);
    await this.#event(
      trial.id,
      'epoch',
      `epoch ${entry.epoch}: ${metric.name} ${updated.lastValue?.toFixed(4) ?? 'n/a'}`,
    );
    const decision = (await this.#o.hooks?.onEpoch(updated, entry)) ?? 'continue';
    if (decision === 'stop') await this.prune(trial.id, `stopped early after epoch ${entry.epoch}`);
  }

  async #onEnded(worker: WorkerRecord, ended: TrialEnded__Output): Promise<void> {
    const { store, scheduler, queue } = this.#o;
    const trial = await store.getTrial(ended.trialId);
    if (!this.#speaksFor(worker, ended.trialId, ended.rank, trial)) return; // stale or foreign
    if (!trial || TERMINAL_TRIAL_STATES.includes(trial.state)) return;
    this.#adopting.delete(trial.id);
    switch (ended.outcome) {
      case 'TRIAL_OUTCOME_COMPLETED': {
        if (ended.rank !== 0) return; // rank 0 speaks for the group
        scheduler.complete(trial.id);
        await this.#finish(trial.id, 'completed', 'completed', 'finished training', {}, () =>
          queue.complete(trial.id, ended.resultJson),
        );
        return;
      }
      case 'TRIAL_OUTCOME_FAILED': {
        scheduler.stopTrial(trial.id, `rank ${ended.rank} failed`);
        const message = `rank ${ended.rank} on ${worker.capabilities.workerName}: ${ended.error}`;
        const next = await queue.fail(trial.id, message);
        if (next === 'retry') {
          await store.updateTrial(trial.id, { state: 'queued', placement: [], error: message });
          await this.#event(trial.id, 'requeued', `failed, will retry: ${message}`);
          this.pump();
        } else {
          await this.#finish(trial.id, 'failed', 'failed', message, { error: message });
        }
        return;
      }
      default:
        // STOPPED answers our own Stop; the trial's state was set when we sent it.
        return;
    }
  }

  #onMetric(point: MetricPoint__Output): void {
    const worker = this.#o.pool.get(point.workerId);
    if (!worker || !this.#speaksFor(worker, point.trialId, point.rank)) return;
    if (!Number.isFinite(point.value)) return;
    if (point.name === 'train/samples_per_s') this.#throughput.set(point.trialId, point.value);
    let list = this.#points.get(point.trialId);
    if (!list) this.#points.set(point.trialId, (list = []));
    list.push({
      name: point.name,
      step: Number(point.step),
      value: point.value,
      at: Number(point.timestampMs) || Date.now(),
    });
  }

  async #flushPoints(): Promise<void> {
    const batches = [...this.#points];
    this.#points.clear();
    for (const [trialId, points] of batches) await this.#o.store.appendPoints(trialId, points);
  }

  #onHeartbeat(worker: WorkerRecord, hb: Heartbeat__Output): void {
    // Until start() has read what the previous incarnation ran, nobody is an orphan.
    if (!this.#started) return;
    if (hb.state !== 'WORKER_STATE_TRAINING' || worker.assignment !== null) return;
    const adoption = this.#adopting.get(hb.trialId);
    if (adoption) {
      const expected = adoption.trial.placement[hb.rank];
      if (expected?.workerName !== worker.capabilities.workerName) return;
      worker.assignment = {
        trialId: hb.trialId,
        rank: hb.rank,
        worldSize: adoption.trial.workersPerTrial,
      };
      adoption.workerIds[hb.rank] = worker.id;
      if (adoption.workerIds.every((id) => id !== null)) {
        this.#adopting.delete(hb.trialId);
        this.#o.scheduler.adopt(
          {
            trialId: hb.trialId,
            worldSize: adoption.trial.workersPerTrial,
            configJson: JSON.stringify(adoption.trial.spec),
          },
          adoption.workerIds as string[],
        );
        void this.#guard('adopted', () =>
          this.#event(hb.trialId, 'resumed', 'its workers reconnected after a coordinator restart'),
        );
      }
      return;
    }
    // Placing a trial claims its workers before telling them, so a worker training a trial
    // without a claim is an orphan (e.g. of a group re-formed while it was unreachable).
    worker.session?.send({
      stop: {
        trialId: hb.trialId,
        reason: 'this worker is not part of the trial at the coordinator',
      },
    });
  }

  async #checkAdoptions(): Promise<void> {
    const now = Date.now();
    for (const [trialId, adoption] of [...this.#adopting]) {
      if (now < adoption.deadline) continue;
      this.#adopting.delete(trialId);
      for (const id of adoption.workerIds) {
        const w = id === null ? undefined : this.#o.pool.get(id);
        if (!w) continue;
        w.session?.send({ stop: { trialId, reason: 'group incomplete after restart' } });
        w.assignment = null;
      }
      // Store first (see #finish); the job may already be back in the queue (lock expired and
      // BullMQ's stalled check moved it), which is what requeue would do anyway.
      await this.#o.store.updateTrial(trialId, { state: 'queued', placement: [] });
      await this.#o.queue
        .requeue(trialId)
        .catch((err: unknown) => this.#log.info({ trialId, err }, 'job already back in the queue'));
      await this.#event(trialId, 'requeued', 'its workers did not all come back after a restart');
    }
    if (this.#adopting.size === 0) this.pump();
  }

  #rememberLost(w: WorkerRecord): void {
    this.#lost.set(w.id, { ...this.#snapshot(w), state: 'lost' });
    const cutoff = Date.now() - 10 * 60_000;
    for (const [id, s] of this.#lost) if (s.lastHeartbeat < cutoff) this.#lost.delete(id);
  }

  #snapshot(w: WorkerRecord): WorkerSnapshot {
    const hb = w.reported;
    const state =
      hb?.state === 'WORKER_STATE_TRAINING'
        ? 'training'
        : hb?.state === 'WORKER_STATE_STOPPING'
          ? 'stopping'
          : 'idle';
    return {
      id: w.id,
      name: w.capabilities.workerName,
      state,
      backend: w.capabilities.backend,
      device: w.capabilities.device,
      adapter: adapterSnapshot(w.capabilities.adapter),
      version: w.capabilities.version,
      trialId: w.assignment?.trialId ?? (hb?.trialId || null),
      rank: w.assignment?.rank ?? null,
      step: Number(hb?.step ?? 0),
      stepTimeMs: hb?.stepTimeMs ?? 0,
      // Each rank processes an equal share of the group's samples.
      samplesPerSecond:
        w.assignment && this.#throughput.has(w.assignment.trialId)
          ? (this.#throughput.get(w.assignment.trialId) ?? 0) / w.assignment.worldSize
          : null,
      lastHeartbeat: w.lastSeen,
      registeredAt: w.registeredAt,
    };
  }

  workerSnapshots(): WorkerSnapshot[] {
    const live = this.#o.pool.snapshot().map((s) => {
      const w = this.#o.pool.get(s.id);
      return w ? this.#snapshot(w) : null;
    });
    return [...live.filter((s): s is WorkerSnapshot => s !== null), ...this.#lost.values()];
  }

  async #publishWorkers(): Promise<void> {
    await this.#o.store.putWorkers(this.workerSnapshots());
  }

  async #event(trialId: TrialId, type: TrialEventType, message: string): Promise<void> {
    await this.#o.store.addEvent(trialId, { at: Date.now(), type, message });
  }

  readonly #reportChains = new Map<TrialId, Promise<void>>();

  #inOrder(trialId: TrialId, fn: () => Promise<void>): void {
    const next = (this.#reportChains.get(trialId) ?? Promise.resolve()).then(fn);
    this.#reportChains.set(trialId, next);
    void next.then(() => {
      if (this.#reportChains.get(trialId) === next) this.#reportChains.delete(trialId);
    });
  }

  /** Runs an async handler; an error is logged (with what was being done), never thrown. */
  async #guard(what: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (this.#closed) return;
      this.#log.error({ err, what }, 'trial handling failed');
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    await this.#guard('final flush', () => this.#flushPoints());
  }

  /** For tests and the CLI: the curve points not yet written. */
  pendingPoints(): number {
    let n = 0;
    for (const list of this.#points.values()) n += list.length;
    return n;
  }
}

export type { CurvePoint };
