/**
 * A trial's state changes once it is queued: placed (running), broken (a rank's worker lost:
 * back in the queue, no attempt used), and its ends (completed, pruned, failed, cancelled,
 * refused). Every end is written to the store FIRST, then its queue job is settled: a
 * coordinator killed in between leaves an ended trial whose job is still active, which the next
 * start completes; the other order would leave a completed job whose trial looks running forever.
 */
import type { TrialEventType, TrialId, TrialRecord } from '@mmim/experiments';
import { TERMINAL_TRIAL_STATES } from '@mmim/experiments';
import type { Placement } from '../scheduler.js';
import type { TrialContext } from './context.js';

export type EndState = 'completed' | 'pruned' | 'failed' | 'cancelled';

export class TrialLifecycle {
  readonly #ctx: TrialContext;
  readonly #pump: () => void;
  readonly #forget: (trialId: TrialId) => void;

  /**
   * `pump`: look for more work (workers were freed). `forget`: drop what the other parts hold
   * for a trial that is being cancelled (parked, waiting for adoption).
   */
  constructor(ctx: TrialContext, pump: () => void, forget: (trialId: TrialId) => void) {
    this.#ctx = ctx;
    this.#pump = pump;
    this.#forget = forget;
  }

  /** Records the end, then settles the job (see the header), then tells the sweep layer. */
  async finish(
    trialId: TrialId,
    state: EndState,
    event: TrialEventType,
    message: string,
    extra: Partial<TrialRecord> = {},
    settleJob: (() => Promise<unknown>) | null = null,
  ): Promise<void> {
    const ctx = this.#ctx;
    const trial = await ctx.store.updateTrial(trialId, {
      state,
      endedAt: ctx.now(),
      ...extra,
    });
    await ctx.event(trialId, event, message);
    if (settleJob) await settleJob();
    ctx.log.info({ trialId, state, message }, 'trial ended');
    await ctx.hooks?.onTrialEnd(trial);
    this.#pump();
  }

  /** Ends a trial that has not finished: queued, parked, waiting for a gang, or running. */
  async cancel(trialId: TrialId, reason: string): Promise<void> {
    const { queue, scheduler, store } = this.#ctx;
    const trial = await store.getTrial(trialId);
    if (!trial || TERMINAL_TRIAL_STATES.includes(trial.state)) return;
    this.#forget(trialId);
    const wasWaiting = await queue.remove(trialId);
    if (!wasWaiting) {
      scheduler.cancel(trialId);
      scheduler.stopTrial(trialId, reason);
    }
    await this.finish(trialId, 'cancelled', 'cancelled', reason, {}, () =>
      wasWaiting ? Promise.resolve() : queue.complete(trialId, { cancelled: reason }),
    );
  }

  /** Early stop decided by the sweep's scheduler. */
  async prune(trialId: TrialId, reason: string): Promise<void> {
    this.#ctx.scheduler.stopTrial(trialId, reason);
    await this.finish(trialId, 'pruned', 'pruned', reason, {}, () =>
      this.#ctx.queue.complete(trialId, { pruned: reason }),
    );
  }

  /** Ends a queued trial that can never be placed; its job leaves the queue (waiting or held). */
  async refuse(trialId: TrialId, why: string): Promise<void> {
    const { queue, log } = this.#ctx;
    const wasWaiting = await queue.remove(trialId);
    const message = `refused: ${why}`;
    log.warn({ trialId, reason: why }, 'queued trial refused at start');
    await this.finish(trialId, 'failed', 'failed', message, { error: message }, () =>
      wasWaiting ? Promise.resolve() : queue.complete(trialId, { refused: why }),
    );
  }

  /** A rank failed: retried while attempts remain (back in the queue), else failed for good. */
  async failed(trialId: TrialId, message: string): Promise<void> {
    const ctx = this.#ctx;
    const next = await ctx.queue.fail(trialId, message);
    if (next === 'retry') {
      await ctx.store.updateTrial(trialId, { state: 'queued', placement: [], error: message });
      await ctx.event(trialId, 'requeued', `failed, will retry: ${message}`);
      this.#pump();
    } else {
      await this.finish(trialId, 'failed', 'failed', message, { error: message });
    }
  }

  /** The gang scheduler placed the trial: running, one more attempt, where each rank runs. */
  async placed(p: Placement): Promise<void> {
    const { store, pool, scheduler, checkpoints } = this.#ctx;
    const trial = await store.getTrial(p.trialId);
    if (!trial) return;
    if (TERMINAL_TRIAL_STATES.includes(trial.state)) {
      // Cancelled between leaving the queue and getting its gang: free the gang again.
      scheduler.stopTrial(p.trialId, `trial is ${trial.state}`);
      return;
    }
    const placement = p.workerIds.map((id, rank) => ({
      rank,
      workerId: id,
      workerName: pool.get(id)?.capabilities.workerName ?? id,
    }));
    const checkpoint = await checkpoints.info(p.trialId, 'last');
    await store.updateTrial(p.trialId, {
      checkpointEpoch: checkpoint?.epoch ?? null,
      state: 'running',
      startedAt: trial.startedAt ?? this.#ctx.now(),
      attempts: trial.attempts + 1,
      placement,
      error: null,
    });
    const where = placement.map((r) => `rank ${r.rank} on ${r.workerName}`).join(', ');
    await this.#ctx.event(
      p.trialId,
      checkpoint !== null ? 'resumed' : 'started',
      checkpoint !== null
        ? `attempt ${trial.attempts + 1}: resuming after epoch ${checkpoint.epoch} (${where})`
        : `attempt ${trial.attempts + 1}: ${where}`,
    );
  }

  /** A rank's worker was lost: back in the queue without using an attempt. */
  async broken(trialId: TrialId, lostWorkerId: string, lostRank: number): Promise<void> {
    const ctx = this.#ctx;
    await ctx.event(trialId, 'worker-lost', `rank ${lostRank} (worker ${lostWorkerId}) was lost`);
    await ctx.store.updateTrial(trialId, { state: 'queued', placement: [] });
    await ctx.queue.requeue(trialId);
    await ctx.event(trialId, 'requeued', 'back in the queue; it resumes from its last checkpoint');
    this.#pump();
  }
}
