import { EventEmitter } from 'node:events';
import type { Logger } from '@mmim/runtime';
import type { Assignment, WorkerPool, WorkerRecord } from './pool.js';

/** A trial waiting for `worldSize` workers. */
export interface TrialRequest {
  readonly trialId: string;
  readonly worldSize: number;
  /** The trial's hyperparameters, passed through to every rank unchanged. */
  readonly configJson: string;
}

/** Where a trial runs: worker ids indexed by rank. */
export interface Placement {
  readonly trialId: string;
  readonly worldSize: number;
  readonly workerIds: readonly string[];
}

export interface GangSchedulerEvents {
  placed: [Placement];
  /**
   * A rank's worker was lost: the other ranks were told to stop and freed. The sweep layer
   * decides whether to re-queue the trial (from its last checkpoint).
   */
  broken: [{ trial: TrialRequest; lostWorkerId: string; lostRank: number }];
}

/**
 * Picks `worldSize` of the idle workers, or none when there are too few: a gang is never
 * placed partially, because a synchronous data-parallel step cannot start until every rank
 * is there, and a partial group would hold workers idle while others wait for them.
 */
export function pickGang<T>(idle: readonly T[], worldSize: number): T[] | null {
  return idle.length >= worldSize ? idle.slice(0, worldSize) : null;
}

/**
 * How far later trials may jump a head of the queue that waits for busy workers (backfill).
 * Without run-time estimates we cannot prove, as Slurm does, that a jump never delays the
 * head; instead the jumps are bounded: once a head has been jumped `maxJumps` times or has
 * waited `maxWaitMs`, it is reserved and nothing else starts until it has its gang.
 */
export interface BackfillPolicy {
  /** Later trials that may start while the head waits; default 4 (0: strict first come). */
  readonly maxJumps: number;
  /** How long the head may wait while others start before it; default 10 minutes. */
  readonly maxWaitMs: number;
}

export const DEFAULT_BACKFILL: BackfillPolicy = { maxJumps: 4, maxWaitMs: 10 * 60_000 };

export interface GangSchedulerOptions {
  backfill?: Partial<BackfillPolicy>;
  /** Injected in tests. */
  now?: () => number;
}

/** A queued trial and what the backfill rule knows about it while it is the head. */
interface Waiting {
  readonly trial: TrialRequest;
  /** When it first waited as the head for busy workers; null while it has not. */
  headSince: number | null;
  /** Later trials started while it waited as the head. */
  jumps: number;
}

/**
 * Gang-schedules trials onto idle workers, first come first served, with bounded backfill:
 * the head of the queue is the first trial the registered workers could ever run; while it
 * waits for busy workers, a later trial that fits the idle ones may start (a jump), until the
 * head has been jumped `maxJumps` times or has waited `maxWaitMs`; then the head is reserved
 * and the workers that free up wait for it. A trial larger than the registered workers (some
 * deregistered) is not a head: it waits without blocking anyone until enough workers register.
 *
 * The internal API for the sweep layer: `submit`, `cancel`, `complete`, `stopTrial`, and the
 * `placed` / `broken` events.
 */
export class GangScheduler extends EventEmitter<GangSchedulerEvents> {
  readonly #pool: WorkerPool;
  readonly #log: Logger;
  readonly #backfill: BackfillPolicy;
  readonly #now: () => number;
  readonly #queue: Waiting[] = [];
  readonly #running = new Map<string, { trial: TrialRequest; workerIds: string[] }>();

  constructor(pool: WorkerPool, log: Logger, options: GangSchedulerOptions = {}) {
    super();
    this.#pool = pool;
    this.#log = log;
    this.#now = options.now ?? Date.now;
    this.#backfill = { ...DEFAULT_BACKFILL, ...options.backfill };
    const { maxJumps, maxWaitMs } = this.#backfill;
    if (!Number.isInteger(maxJumps) || maxJumps < 0) {
      throw new Error(`backfill maxJumps must be an integer >= 0, got ${maxJumps}`);
    }
    if (!(maxWaitMs >= 0)) throw new Error(`backfill maxWaitMs must be >= 0, got ${maxWaitMs}`);
    const pump = (): void => void this.pump();
    pool.on('idle', pump);
    pool.on('connected', pump);
    pool.on('lost', (w) => this.#onLost(w));
  }

  /** Queues a trial and places whatever fits now. Throws on a bad or duplicate request. */
  submit(trial: TrialRequest): void {
    if (!Number.isInteger(trial.worldSize) || trial.worldSize < 1) {
      throw new Error(
        `trial ${trial.trialId}: worldSize must be an integer >= 1, got ${trial.worldSize}`,
      );
    }
    if (
      this.#running.has(trial.trialId) ||
      this.#queue.some((w) => w.trial.trialId === trial.trialId)
    ) {
      throw new Error(`trial ${trial.trialId} is already queued or running`);
    }
    this.#queue.push({ trial, headSince: null, jumps: 0 });
    this.pump();
  }

  /** Removes a queued (not yet placed) trial; false if it was not queued. */
  cancel(trialId: string): boolean {
    const i = this.#queue.findIndex((w) => w.trial.trialId === trialId);
    if (i < 0) return false;
    this.#queue.splice(i, 1);
    this.pump();
    return true;
  }

  /** Frees the workers of a trial that ended on its own; they take work again once idle. */
  complete(trialId: string): void {
    const running = this.#running.get(trialId);
    if (!running) return;
    this.#running.delete(trialId);
    for (const id of running.workerIds) {
      const w = this.#pool.get(id);
      if (w?.assignment?.trialId === trialId) w.assignment = null;
    }
    this.pump();
  }

  /** Tells every rank of a running trial to stop, then frees them. */
  stopTrial(trialId: string, reason: string): void {
    const running = this.#running.get(trialId);
    if (!running) return;
    for (const id of running.workerIds) {
      this.#pool.get(id)?.session?.send({ stop: { trialId, reason } });
    }
    this.complete(trialId);
  }

  /**
   * Records a trial that is already running on `workerIds` (rank order), found when workers
   * reconnect after a coordinator restart. Their assignments must already be set.
   */
  adopt(trial: TrialRequest, workerIds: readonly string[]): void {
    if (this.#running.has(trial.trialId)) return;
    this.#running.set(trial.trialId, { trial, workerIds: [...workerIds] });
    this.#log.info({ trialId: trial.trialId, workerIds }, 'running trial adopted');
  }

  isRunning(trialId: string): boolean {
    return this.#running.has(trialId);
  }

  /** Places queued trials by the rule above; returns what it placed. */
  pump(): Placement[] {
    const placed: Placement[] = [];
    for (let next = this.#next(); next !== null; next = this.#next()) {
      this.#queue.splice(this.#queue.indexOf(next.waiting), 1);
      placed.push(this.#place(next.waiting.trial, next.gang));
    }
    return placed;
  }

  /**
   * The next trial to place now and its gang, or null. Walks the queue in order: trials the
   * registered workers cannot hold are passed over; the first one they can is the head; later
   * trials may jump the head while it is not reserved.
   */
  #next(): { waiting: Waiting; gang: WorkerRecord[] } | null {
    const idle = this.#pool.idleWorkers();
    if (idle.length === 0) return null;
    const registered = this.#pool.size;
    let head: Waiting | null = null;
    for (const waiting of this.#queue) {
      const { worldSize } = waiting.trial;
      if (head === null && worldSize > registered) continue;
      const gang = pickGang(idle, worldSize);
      if (head === null) {
        if (gang) return { waiting, gang };
        head = waiting;
        head.headSince ??= this.#now();
        if (this.#reserved(head)) return null;
        continue;
      }
      if (!gang) continue;
      head.jumps++;
      this.#log.info(
        { trialId: waiting.trial.trialId, head: head.trial.trialId, jumps: head.jumps },
        'trial starts ahead of the waiting head (backfill)',
      );
      return { waiting, gang };
    }
    return null;
  }

  /** A head that was jumped often enough, or waited long enough, keeps the workers that free up. */
  #reserved(head: Waiting): boolean {
    const { maxJumps, maxWaitMs } = this.#backfill;
    return head.jumps >= maxJumps || this.#now() - (head.headSince ?? this.#now()) >= maxWaitMs;
  }

  /** True while a waiting head keeps every freed worker for itself (no backfill now). */
  headReserved(): boolean {
    const registered = this.#pool.size;
    const head = this.#queue.find((w) => w.trial.worldSize <= registered);
    return head !== undefined && head.headSince !== null && this.#reserved(head);
  }

  pending(): readonly TrialRequest[] {
    return this.#queue.map((w) => w.trial);
  }

  running(): Placement[] {
    return [...this.#running.values()].map(({ trial, workerIds }) => ({
      trialId: trial.trialId,
      worldSize: trial.worldSize,
      workerIds: [...workerIds],
    }));
  }

  #place(trial: TrialRequest, gang: WorkerRecord[]): Placement {
    // Claim every worker before sending anything: all of this runs synchronously, so no other
    // placement can interleave and take one of them.
    gang.forEach((w, rank) => {
      const assignment: Assignment = { trialId: trial.trialId, rank, worldSize: trial.worldSize };
      w.assignment = assignment;
    });
    const workerIds = gang.map((w) => w.id);
    this.#running.set(trial.trialId, { trial, workerIds });
    gang.forEach((w, rank) => {
      w.session?.send({
        assignTrial: {
          trialId: trial.trialId,
          rank,
          worldSize: trial.worldSize,
          configJson: trial.configJson,
        },
      });
    });
    const placement: Placement = { trialId: trial.trialId, worldSize: trial.worldSize, workerIds };
    this.#log.info({ ...placement }, 'trial placed');
    this.emit('placed', placement);
    return placement;
  }

  #onLost(worker: WorkerRecord): void {
    const a = worker.assignment;
    if (!a) return;
    const running = this.#running.get(a.trialId);
    if (!running) return;
    this.#log.warn(
      { trialId: a.trialId, workerId: worker.id, rank: a.rank },
      'rank lost; stopping trial',
    );
    this.stopTrial(a.trialId, `rank ${a.rank} (worker ${worker.id}) was lost`);
    this.emit('broken', { trial: running.trial, lostWorkerId: worker.id, lostRank: a.rank });
  }
}
