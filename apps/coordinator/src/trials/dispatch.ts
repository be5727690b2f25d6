/**
 * Dispatch: trials go from the durable queue to the gang scheduler when idle workers could take
 * them. A trial whose sweep is paused is parked here (still held in the queue) until the sweep
 * resumes. `pump` never runs twice at once: a pump asked for while one runs makes that one go
 * round again, so no wake-up is lost and no trial is taken twice.
 */
import type { TrialId, TrialRecord } from '@mmim/experiments';
import { TERMINAL_TRIAL_STATES } from '@mmim/experiments';
import type { TrialContext } from './context.js';

/**
 * How many trials taken from the queue may wait in the gang scheduler at once (the head and
 * the trials that might backfill past it); the rest stay in the durable queue.
 */
export const MAX_WAITING_IN_SCHEDULER = 8;

export class Dispatcher {
  readonly #ctx: TrialContext;
  /** Trials taken from the queue whose sweep is paused: they wait here, still held. */
  readonly #parked = new Map<TrialId, TrialRecord>();
  #pumping = false;
  #pumpAgain = false;
  /** Off until the manager has restored what a previous incarnation held. */
  #running = false;

  constructor(ctx: TrialContext) {
    this.#ctx = ctx;
  }

  /** Lets `pump` take work (after start-up has restored the held trials). */
  start(): void {
    this.#running = true;
  }

  /** Records a new trial and queues it (idempotent: an existing trial id is left alone). */
  async submit(trial: TrialRecord, maxAttempts = this.#ctx.defaultMaxAttempts): Promise<void> {
    const { store, queue } = this.#ctx;
    if (await store.getTrial(trial.id)) return;
    await store.putTrial(trial);
    await this.#ctx.event(trial.id, 'queued', `queued (${trial.workersPerTrial} worker(s))`);
    await queue.enqueue(
      { trialId: trial.id, sweepId: trial.sweepId, worldSize: trial.workersPerTrial },
      maxAttempts,
    );
    this.pump();
  }

  /** Takes trials from the queue while idle workers remain (see MAX_WAITING_IN_SCHEDULER). */
  pump(): void {
    if (this.#ctx.closed || !this.#running) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    void this.#ctx.guard('pump', async () => {
      try {
        do {
          this.#pumpAgain = false;
          await this.#pumpOnce();
        } while (this.#pumpAgain && !this.#ctx.closed);
      } finally {
        this.#pumping = false;
      }
    });
  }

  /** True while a pump is running (tests wait for it to settle). */
  get busy(): boolean {
    return this.#pumping;
  }

  async #pumpOnce(): Promise<void> {
    const { scheduler, pool, queue, store } = this.#ctx;
    for (;;) {
      scheduler.pump();
      // A head that waits for busy workers lets later trials fill the idle ones (bounded
      // backfill, see GangScheduler), so more than one trial may wait in the scheduler; a
      // reserved head takes nothing more from the queue until it has its gang.
      if (scheduler.headReserved()) return;
      if (scheduler.pending().length >= MAX_WAITING_IN_SCHEDULER) return;
      if (pool.idleWorkers().length === 0) return;
      if ((this.#ctx.startGate?.() ?? null) !== null) return; // stays queued; pumped again later
      const job = await queue.take();
      if (!job) return;
      const trial = await store.getTrial(job.trialId);
      if (!trial || TERMINAL_TRIAL_STATES.includes(trial.state)) {
        await queue.complete(job.trialId, { note: 'already ended' });
        continue;
      }
      await this.dispatch(trial);
    }
  }

  /** Hands a held trial to the gang scheduler, or parks it while its sweep is paused. */
  async dispatch(trial: TrialRecord): Promise<void> {
    const { hooks, scheduler } = this.#ctx;
    if (hooks && !(await hooks.mayStart(trial))) {
      this.#parked.set(trial.id, trial);
      return;
    }
    const spec = {
      ...trial.spec,
      trialId: trial.id,
      attempt: trial.attempts + 1,
      seed: trial.seed,
    };
    scheduler.submit({
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
      await this.dispatch(trial);
    }
    this.pump();
  }

  isParked(trialId: TrialId): boolean {
    return this.#parked.has(trialId);
  }

  /** The trial is ending (cancelled): it is parked no more. */
  forget(trialId: TrialId): void {
    this.#parked.delete(trialId);
  }

  /** Takes a waiting trial out of the queue (sweep paused); false if it was not waiting. */
  unqueue(trialId: TrialId): Promise<boolean> {
    return this.#ctx.queue.remove(trialId);
  }

  /** Puts a queued trial back into the queue (sweep resumed); a no-op if its job exists. */
  async requeueWaiting(
    trial: TrialRecord,
    maxAttempts = this.#ctx.defaultMaxAttempts,
  ): Promise<void> {
    await this.#ctx.queue.enqueue(
      { trialId: trial.id, sweepId: trial.sweepId, worldSize: trial.workersPerTrial },
      maxAttempts,
    );
    this.pump();
  }
}
