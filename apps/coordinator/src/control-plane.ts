/**
 * The whole coordinator: the gRPC side (workers, leases, gang scheduling) plus what lives on
 * Redis (the experiment store, the durable trial queue, checkpoints), the trial manager, the
 * sweep controller and the HTTP side (dashboard, JSON API, Prometheus metrics).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  CheckpointStore,
  ExperimentStore,
  TERMINAL_TRIAL_STATES,
  type SweepRecord,
  type TrialRecord,
} from '@mmim/experiments';
import type { Logger } from '@mmim/runtime';
import { openCheckpoints } from './artifacts.js';
import { CheckpointGc } from './retention/checkpoint-gc.js';
import { RedisMemoryWatch } from './redis-memory.js';
import { Coordinator, type TlsFiles } from './coordinator.js';
import { SweepController } from './sweeps/sweep-controller.js';
import { TrialManager } from './trials/trial-manager.js';
import { DEFAULT_MAX_WORKERS_PER_TRIAL, WorkersPerTrialLimit } from './trials/admission.js';
import type { BackfillPolicy } from './scheduler.js';
import { TrialQueue } from './trials/trial-queue.js';
import { newTrialRecord } from './trials/new-trial.js';
import {
  CoordinatorMetrics,
  createHttpServer,
  SweepActionError,
  type HttpServerHandle,
  type LoneTrialRequest,
} from './http/index.js';

export interface ControlPlaneOptions {
  host: string;
  port: number;
  joinToken: string;
  leaseMs: number;
  tls?: TlsFiles;
  redisUrl: string;
  httpHost: string;
  /** null: no HTTP server (tests of the gRPC side only). */
  httpPort: number | null;
  adminToken: string | null;
  readTokenRequired: boolean;
  /** Host names the dashboard answers to besides its bound address; default none. */
  httpAllowedHosts?: string[];
  queueLockMs: number;
  /**
   * The floor of the workers-per-trial limit (the registered workers raise it); default
   * DEFAULT_MAX_WORKERS_PER_TRIAL. Larger trials and sweeps are refused with a 400.
   */
  maxWorkersPerTrial?: number;
  /**
   * Where checkpoints go (dir:PATH, s3://bucket/prefix?endpoint=..., redis); null or absent:
   * the store published by an earlier start, else Redis (capped). See ./artifacts.ts.
   */
  artifacts?: string | null;
  /** How far smaller trials may jump a waiting head of the queue; default DEFAULT_BACKFILL. */
  backfill?: Partial<BackfillPolicy>;
  /** The built dashboard; null serves the API only. */
  dashboardDir: string | null;
  log: Logger;
}

/** What a lone trial (`mmim train --workers K`) needs: the body of POST /api/trials. */
export type LoneTrialInput = LoneTrialRequest;

export class ControlPlane {
  private constructor(
    readonly coordinator: Coordinator,
    readonly redis: Redis,
    readonly store: ExperimentStore,
    readonly checkpoints: CheckpointStore,
    readonly queue: TrialQueue,
    readonly trials: TrialManager,
    readonly sweeps: SweepController,
    readonly metrics: CoordinatorMetrics,
    readonly http: HttpServerHandle | null,
    readonly adminToken: string,
    readonly admission: WorkersPerTrialLimit,
    private readonly log: Logger,
  ) {}

  static async start(o: ControlPlaneOptions): Promise<ControlPlane> {
    const log = o.log;
    // Commands wait through a Redis restart (offline queue, endless retries) instead of
    // failing: a restarted Redis with AOF has everything, and nothing here may be lost.
    const redis = new Redis(o.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
    redis.on('error', (err: Error) => log.warn({ err }, 'redis connection error'));
    await redis.connect();
    const store = new ExperimentStore(redis);
    const checkpoints = await openCheckpoints(redis, o.artifacts ?? null, log);
    const queue = await TrialQueue.open({ connection: redis, redis, lockMs: o.queueLockMs, log });
    const coordinator = Coordinator.create({
      host: o.host,
      port: o.port,
      joinToken: o.joinToken,
      leaseMs: o.leaseMs,
      ...(o.tls ? { tls: o.tls } : {}),
      ...(o.backfill ? { backfill: o.backfill } : {}),
      log,
    });
    const admission = new WorkersPerTrialLimit(
      o.maxWorkersPerTrial ?? DEFAULT_MAX_WORKERS_PER_TRIAL,
      () => coordinator.pool.size,
    );
    const trials = new TrialManager({
      pool: coordinator.pool,
      scheduler: coordinator.scheduler,
      registry: coordinator.registry,
      queue,
      store,
      checkpoints,
      log,
      admission,
    });
    const sweeps = new SweepController({
      store,
      trials,
      log,
      workerCount: () => coordinator.pool.size,
      admission,
    });
    trials.setHooks(sweeps);
    // Sweeps first: they say which sweeps are paused before any held trial is dispatched.
    await sweeps.start();
    await trials.start();
    // Applies each sweep's checkpoint retention now and every minute (idempotent: a restart
    // just runs the next pass).
    const gc = new CheckpointGc({ store, checkpoints, log });
    gc.start();
    // New trials wait while Redis is nearly full, instead of failing running ones mid-step.
    const metrics = new CoordinatorMetrics();
    const memory = new RedisMemoryWatch({ redis, log, registry: metrics.registry });
    await memory.sample().catch((err: unknown) => log.warn({ err }, 'cannot read Redis memory'));
    memory.start();
    trials.setStartGate(() => memory.refusal());
    await coordinator.listen();
    // Without a configured admin token one is made up and never shown: the dashboard is then
    // read-only, which is the safe default.
    const adminToken = o.adminToken ?? randomBytes(32).toString('hex');
    let http: HttpServerHandle | null = null;
    const plane = (): ControlPlane => self;
    if (o.httpPort !== null) {
      http = await createHttpServer({
        store,
        checkpoints,
        gc,
        redisMemory: memory,
        control: {
          pause: (id) => plane().sweeps.pause(id),
          resume: (id) => plane().sweeps.resume(id),
          cancel: (id) => plane().sweeps.cancel(id),
          createSweep: (yaml) => plane().sweeps.create(yaml, 'request body'),
          createTrial: (input) => plane().createLoneTrial(input),
          cancelTrial: (id) => plane().cancelLoneTrial(id),
          deleteSweep: (id) =>
            plane().sweeps.delete(id, (trials) => gc.deleteTrials(trials.map((t) => t.id))),
        },
        adminToken,
        readTokenRequired: o.readTokenRequired,
        allowedHosts: o.httpAllowedHosts ?? [],
        staticDir: o.dashboardDir,
        metrics,
        log,
      });
      await http.listen(o.httpHost, o.httpPort);
    }
    const self = new ControlPlane(
      coordinator,
      redis,
      store,
      checkpoints,
      queue,
      trials,
      sweeps,
      metrics,
      http,
      adminToken,
      admission,
      log,
    );
    self.#gc = gc;
    self.#memory = memory;
    self.#startMetrics();
    return self;
  }

  #metricsTimer: NodeJS.Timeout | null = null;
  #gc: CheckpointGc | null = null;
  #memory: RedisMemoryWatch | null = null;

  #startMetrics(): void {
    const tick = async (): Promise<void> => {
      const workers: Record<string, number> = { idle: 0, training: 0, stopping: 0, lost: 0 };
      for (const w of this.trials.workerSnapshots()) workers[w.state] = (workers[w.state] ?? 0) + 1;
      this.metrics.setWorkerCounts(workers);
      const counts: Record<string, number> = {};
      for (const sweep of await this.store.listSweeps()) {
        for (const [k, v] of Object.entries(await this.store.sweepCounts(sweep.id)))
          counts[k] = (counts[k] ?? 0) + v;
      }
      this.metrics.setTrialCounts(counts);
      this.metrics.setQueueDepth(await this.queue.depth());
    };
    this.#metricsTimer = setInterval(() => {
      tick().catch((err: unknown) => this.log.debug({ err }, 'metrics refresh failed'));
    }, 2000);
    this.#metricsTimer.unref();
    this.coordinator.pool.on('heartbeat', (_w, hb) => {
      if (hb.stepTimeMs > 0) this.metrics.observeStepSeconds(hb.stepTimeMs / 1000);
    });
    this.coordinator.registry.on('metric', (p) => {
      if (p.name === 'ps/bytes') this.metrics.addParamServerBytes(p.value);
      else if (p.name === 'ps/seconds') this.metrics.observeParamServerSeconds(p.value);
    });
  }

  /** Queues one trial outside any sweep. */
  async createLoneTrial(input: LoneTrialInput): Promise<TrialRecord> {
    const refusal = this.admission.refusal(input.workers, 'workers');
    if (refusal !== null) throw new SweepActionError('invalid', '', refusal);
    const id = `${(input.name ?? 'trial').replace(/[^a-zA-Z0-9_-]+/g, '-').slice(0, 32)}-${randomBytes(3).toString('hex')}`;
    const trial = newTrialRecord({
      id,
      sweepId: null,
      number: 0,
      configKey: id,
      params: {},
      seed: input.seed,
      workersPerTrial: input.workers,
      data: input.data,
      trainer: input.trainer,
      ...(input.bert === undefined ? {} : { bert: input.bert }),
      ...(input.start === undefined ? {} : { start: input.start }),
    });
    await this.trials.submit(trial);
    return trial;
  }

  /**
   * Ends a lone trial wherever it is (queued, waiting for its gang, running: its workers are
   * told to stop). A sweep's trials end with their sweep (`mmim sweep cancel`), so that the
   * sweep's sampler and budget stay consistent.
   */
  async cancelLoneTrial(id: string): Promise<TrialRecord> {
    const trial = await this.store.getTrial(id);
    if (trial === null) {
      throw new SweepActionError('not-found', '', `unknown trial ${JSON.stringify(id)}`);
    }
    if (trial.sweepId !== null) {
      throw new SweepActionError(
        'conflict',
        trial.sweepId,
        `trial ${id} belongs to sweep ${trial.sweepId}: cancel the sweep instead ` +
          `(mmim sweep cancel ${trial.sweepId})`,
      );
    }
    if (TERMINAL_TRIAL_STATES.includes(trial.state)) {
      throw new SweepActionError('conflict', '', `trial ${id} has already ended: ${trial.state}`);
    }
    await this.trials.cancel(id, 'cancelled from the API');
    return (await this.store.getTrial(id)) ?? trial;
  }

  get httpUrl(): string | null {
    return this.http?.url ?? null;
  }

  async close(): Promise<void> {
    if (this.#metricsTimer) clearInterval(this.#metricsTimer);
    await this.http?.close();
    this.#memory?.close();
    await this.#gc?.close();
    await this.trials.close();
    await this.coordinator.close(500);
    await this.queue.close();
    await this.checkpoints.close().catch(() => undefined);
    await this.redis.quit().catch(() => undefined);
  }
}

export type { SweepRecord };
