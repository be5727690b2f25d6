/**
 * What workers report about their trials: finished epochs and trial ends. Every report is
 * checked: a worker may only speak for the trial and rank it runs (or ran, before a coordinator
 * restart, under the same worker name). One trial's reports are handled one after another, in
 * arrival order: epoch n before n + 1, every epoch before the trial's end (they are async store
 * writes; without the order an end could land before the last epoch's record).
 */
import type { EpochEntry, MetricSpec, TrialId, TrialRecord } from '@mmim/experiments';
import { TERMINAL_TRIAL_STATES } from '@mmim/experiments';
import type { EpochReport__Output, TrialEnded__Output } from '@mmim/protocol';
import type { WorkerRecord } from '../pool.js';
import type { Adoptions } from './adoption.js';
import type { TrialContext } from './context.js';
import { toEpochEntry } from './epoch-entry.js';
import type { TrialLifecycle } from './lifecycle.js';

const DEFAULT_METRIC: MetricSpec = { name: 'valid.mae', goal: 'minimize' };

/** Runs tasks keyed by trial one after another per trial, in the order they were added. */
export class PerTrialQueue {
  readonly #chains = new Map<TrialId, Promise<void>>();

  add(trialId: TrialId, task: () => Promise<void>): Promise<void> {
    const next = (this.#chains.get(trialId) ?? Promise.resolve()).then(task);
    this.#chains.set(trialId, next);
    void next.then(() => {
      if (this.#chains.get(trialId) === next) this.#chains.delete(trialId);
    });
    return next;
  }

  /** Trials with reports still being handled. */
  get size(): number {
    return this.#chains.size;
  }
}

export class ReportHandler {
  readonly #ctx: TrialContext;
  readonly #lifecycle: TrialLifecycle;
  readonly #adoptions: Adoptions;
  readonly #order = new PerTrialQueue();

  constructor(ctx: TrialContext, lifecycle: TrialLifecycle, adoptions: Adoptions) {
    this.#ctx = ctx;
    this.#lifecycle = lifecycle;
    this.#adoptions = adoptions;
  }

  /** Queues an epoch report behind the trial's earlier reports; resolves once handled. */
  epoch(worker: WorkerRecord, report: EpochReport__Output): Promise<void> {
    return this.#order.add(report.trialId, () =>
      this.#ctx.guard('epoch', () => this.#onEpoch(worker, report)),
    );
  }

  /** Queues a trial end behind the trial's earlier reports; resolves once handled. */
  ended(worker: WorkerRecord, ended: TrialEnded__Output): Promise<void> {
    return this.#order.add(ended.trialId, () =>
      this.#ctx.guard('ended', () => this.#onEnded(worker, ended)),
    );
  }

  /**
   * May this worker report for this trial and rank? Yes when it runs it now; also when the
   * trial's recorded placement names this worker (by its stable name) for that rank and no
   * group of ours runs it: reports a worker kept while this coordinator was down.
   */
  speaksFor(
    worker: WorkerRecord,
    trialId: string,
    rank: number,
    record: TrialRecord | null = null,
  ): boolean {
    const a = worker.assignment;
    if (a && a.trialId === trialId && a.rank === rank) return true;
    const name = worker.capabilities.workerName;
    const adopting = this.#adoptions.placementOf(trialId);
    if (adopting) return adopting[rank]?.workerName === name;
    return (
      record !== null &&
      record.state === 'running' &&
      !this.#ctx.scheduler.isRunning(trialId) &&
      record.placement[rank]?.workerName === name
    );
  }

  async #onEpoch(worker: WorkerRecord, report: EpochReport__Output): Promise<void> {
    const ctx = this.#ctx;
    const trial = await ctx.store.getTrial(report.trialId);
    if (!this.speaksFor(worker, report.trialId, report.rank, trial)) {
      ctx.log.warn(
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
      entry = toEpochEntry(report.recordJson, report.epoch, ctx.now());
    } catch (err) {
      ctx.log.warn(
        { workerId: worker.id, trialId: trial.id, err },
        'malformed epoch report: ignored',
      );
      return;
    }
    const metric = (await ctx.hooks?.metricOf(trial)) ?? DEFAULT_METRIC;
    const updated = await ctx.store.addEpoch(trial.id, entry, metric);
    await ctx.event(
      trial.id,
      'epoch',
      `epoch ${entry.epoch}: ${metric.name} ${updated.lastValue?.toFixed(4) ?? 'n/a'}`,
    );
    const decision = (await ctx.hooks?.onEpoch(updated, entry)) ?? 'continue';
    if (decision === 'stop') {
      await this.#lifecycle.prune(trial.id, `stopped early after epoch ${entry.epoch}`);
    }
  }

  async #onEnded(worker: WorkerRecord, ended: TrialEnded__Output): Promise<void> {
    const ctx = this.#ctx;
    const trial = await ctx.store.getTrial(ended.trialId);
    if (!this.speaksFor(worker, ended.trialId, ended.rank, trial)) return; // stale or foreign
    if (!trial || TERMINAL_TRIAL_STATES.includes(trial.state)) return;
    this.#adoptions.forget(trial.id);
    switch (ended.outcome) {
      case 'TRIAL_OUTCOME_COMPLETED': {
        if (ended.rank !== 0) return; // rank 0 speaks for the group
        ctx.scheduler.complete(trial.id);
        await this.#lifecycle.finish(
          trial.id,
          'completed',
          'completed',
          'finished training',
          {},
          () => ctx.queue.complete(trial.id, ended.resultJson),
        );
        return;
      }
      case 'TRIAL_OUTCOME_FAILED': {
        ctx.scheduler.stopTrial(trial.id, `rank ${ended.rank} failed`);
        const message = `rank ${ended.rank} on ${worker.capabilities.workerName}: ${ended.error}`;
        await this.#lifecycle.failed(trial.id, message);
        return;
      }
      default:
        // STOPPED answers our own Stop; the trial's state was set when we sent it.
        return;
    }
  }
}
