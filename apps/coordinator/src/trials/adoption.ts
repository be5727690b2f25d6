/**
 * Adoption after a coordinator restart: a trial that was running when the previous incarnation
 * died keeps training on its workers. When each of its ranks reconnects and its heartbeat names
 * the trial and rank the record placed there (by the worker's stable name), the worker is
 * claimed for it; once every rank is back, the gang scheduler adopts the group as running. A
 * group that is not whole by the deadline is stopped and its trial re-queued (it resumes from
 * its checkpoint).
 *
 * A heartbeat that says TRAINING from a worker nobody placed and no adoption expects is an
 * orphan (e.g. of a group re-formed while it was unreachable): it is told to stop.
 */
import type { TrialId, TrialRecord } from '@mmim/experiments';
import type { Heartbeat__Output } from '@mmim/protocol';
import type { WorkerRecord } from '../pool.js';
import type { TrialContext } from './context.js';

interface Adoption {
  trial: TrialRecord;
  /** Worker ids by rank, null until that rank's worker is back. */
  workerIds: (string | null)[];
  deadline: number;
}

export class Adoptions {
  readonly #ctx: TrialContext;
  readonly #graceMs: number;
  readonly #pending = new Map<TrialId, Adoption>();

  /** `graceMs`: how long the workers of a running trial have to come back. */
  constructor(ctx: TrialContext, graceMs: number) {
    this.#ctx = ctx;
    this.#graceMs = graceMs;
  }

  /** A trial the previous incarnation ran: wait for its workers. */
  expect(trial: TrialRecord): void {
    this.#pending.set(trial.id, {
      trial,
      workerIds: trial.placement.map(() => null),
      deadline: this.#ctx.now() + this.#graceMs,
    });
    this.#ctx.log.info({ trialId: trial.id }, 'waiting for the workers of a running trial');
  }

  /** The trial's recorded placement while it waits for adoption, else undefined. */
  placementOf(trialId: TrialId): TrialRecord['placement'] | undefined {
    return this.#pending.get(trialId)?.trial.placement;
  }

  /** The trial ended (or was cancelled) while it waited: stop waiting. */
  forget(trialId: TrialId): void {
    this.#pending.delete(trialId);
  }

  get size(): number {
    return this.#pending.size;
  }

  /**
   * A heartbeat of a worker the scheduler has not claimed: claims it for the adoption that
   * expects it (adopting the group when it is whole), or stops it as an orphan. Returns what it
   * did, for tests and logs.
   */
  onHeartbeat(
    worker: WorkerRecord,
    hb: Heartbeat__Output,
  ): 'claimed' | 'adopted' | 'orphan' | null {
    if (hb.state !== 'WORKER_STATE_TRAINING' || worker.assignment !== null) return null;
    const adoption = this.#pending.get(hb.trialId);
    if (adoption) {
      const expected = adoption.trial.placement[hb.rank];
      if (expected?.workerName !== worker.capabilities.workerName) return null;
      worker.assignment = {
        trialId: hb.trialId,
        rank: hb.rank,
        worldSize: adoption.trial.workersPerTrial,
      };
      adoption.workerIds[hb.rank] = worker.id;
      if (!adoption.workerIds.every((id) => id !== null)) return 'claimed';
      this.#pending.delete(hb.trialId);
      this.#ctx.scheduler.adopt(
        {
          trialId: hb.trialId,
          worldSize: adoption.trial.workersPerTrial,
          configJson: JSON.stringify(adoption.trial.spec),
        },
        adoption.workerIds as string[],
      );
      void this.#ctx.guard('adopted', () =>
        this.#ctx.event(
          hb.trialId,
          'resumed',
          'its workers reconnected after a coordinator restart',
        ),
      );
      return 'adopted';
    }
    // Placing a trial claims its workers before telling them, so a worker training a trial
    // without a claim is an orphan.
    worker.session?.send({
      stop: {
        trialId: hb.trialId,
        reason: 'this worker is not part of the trial at the coordinator',
      },
    });
    return 'orphan';
  }

  /**
   * Gives up on groups not whole by their deadline: their claimed workers are told to stop and
   * freed, the trial goes back to the queue. Returns the trials given up on.
   */
  async expire(): Promise<TrialId[]> {
    const ctx = this.#ctx;
    const now = ctx.now();
    const expired: TrialId[] = [];
    for (const [trialId, adoption] of [...this.#pending]) {
      if (now < adoption.deadline) continue;
      this.#pending.delete(trialId);
      expired.push(trialId);
      for (const id of adoption.workerIds) {
        const w = id === null ? undefined : ctx.pool.get(id);
        if (!w) continue;
        w.session?.send({ stop: { trialId, reason: 'group incomplete after restart' } });
        w.assignment = null;
      }
      // Store first (see lifecycle.ts); the job may already be back in the queue (its lock
      // expired and BullMQ's stalled check moved it), which is what requeue would do anyway.
      await ctx.store.updateTrial(trialId, { state: 'queued', placement: [] });
      await ctx.queue
        .requeue(trialId)
        .catch((err: unknown) => ctx.log.info({ trialId, err }, 'job already back in the queue'));
      await ctx.event(trialId, 'requeued', 'its workers did not all come back after a restart');
    }
    return expired;
  }
}
