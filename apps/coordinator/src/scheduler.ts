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
 * Gang-schedules trials onto idle workers, first come first served. The head of the queue
 * blocks the rest, so a large trial is not starved by a stream of small ones.
 *
 * The internal API for the sweep layer: `submit`, `cancel`, `complete`, `stopTrial`, and the
 * `placed` / `broken` events.
 */
export class GangScheduler extends EventEmitter<GangSchedulerEvents> {
  readonly #pool: WorkerPool;
  readonly #log: Logger;
  readonly #queue: TrialRequest[] = [];
  readonly #running = new Map<string, { trial: TrialRequest; workerIds: string[] }>();

  constructor(pool: WorkerPool, log: Logger) {
    super();
    this.#pool = pool;
    this.#log = log;
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
    if (this.#running.has(trial.trialId) || this.#queue.some((t) => t.trialId === trial.trialId)) {
      throw new Error(`trial ${trial.trialId} is already queued or running`);
    }
    this.#queue.push(trial);
    this.pump();
  }

  /** Removes a queued (not yet placed) trial; false if it was not queued. */
  cancel(trialId: string): boolean {
    const i = this.#queue.findIndex((t) => t.trialId === trialId);
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

  /** Places queued trials while the head of the queue fits; returns what it placed. */
  pump(): Placement[] {
    const placed: Placement[] = [];
    for (let head = this.#queue[0]; head; head = this.#queue[0]) {
      const gang = pickGang(this.#pool.idleWorkers(), head.worldSize);
      if (!gang) break;
      this.#queue.shift();
      placed.push(this.#place(head, gang));
    }
    return placed;
  }

  pending(): readonly TrialRequest[] {
    return [...this.#queue];
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
