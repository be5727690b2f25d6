/**
 * The checkpoint GC: applies each sweep's retention policy (libs/experiments retention.ts) to
 * the checkpoints its trials left, and removes what crashed writes left behind (versions no
 * pointer names, temp files, unfinished uploads). Stateless and idempotent: every pass plans
 * from the record as it is, so a restart just runs the next pass (one runs at start, one at
 * shutdown, one every minute, and one a second after any trial of a sweep changes), and a
 * deletion repeated after a crash is harmless. Each pass that frees something logs what and how
 * much.
 */
import {
  CHECKPOINT_KINDS,
  planRetention,
  retentionOf,
  trialArtifactPrefix,
  type CheckpointStore,
  type ExperimentStoreApi,
  type RetentionDecision,
  type RetentionTrial,
  type SweepId,
  type TrialId,
  type TrialRecord,
} from '@mmim/experiments';
import type { Logger } from '@mmim/runtime';

export interface CheckpointGcOptions {
  store: ExperimentStoreApi;
  checkpoints: CheckpointStore;
  log: Logger;
  /** Time between passes; default 60 s. */
  intervalMs?: number;
  /**
   * An artifact no pointer names is removed once older than this (younger ones may be a write
   * about to swap its pointer); default 1 h. Also the age of temp files purged.
   */
  orphanAgeMs?: number;
  /** Delay between a trial's change and its sweep's pass (changes in a burst share one); 1 s. */
  debounceMs?: number;
  /** The most a shutdown waits for the final pass; default 10 s. */
  finalPassMs?: number;
}

export interface SweepGcReport {
  sweepId: SweepId;
  dryRun: boolean;
  /** What the policy drops (deleted unless dryRun), and what it keeps, with reasons. */
  drop: RetentionDecision[];
  keep: RetentionDecision[];
  /** Artifacts of the sweep's trials that no pointer names (crashed writes). */
  orphans: { key: string; bytes: number }[];
  freedBytes: number;
  ms: number;
}

export class CheckpointGc {
  readonly #o: Required<CheckpointGcOptions>;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #pending = new Map<SweepId, NodeJS.Timeout>();
  #unsubscribe: (() => Promise<void>) | null = null;
  #closed = false;

  constructor(options: CheckpointGcOptions) {
    this.#o = {
      intervalMs: 60_000,
      orphanAgeMs: 60 * 60 * 1000,
      debounceMs: 1000,
      finalPassMs: 10_000,
      ...options,
    };
  }

  async #trialsOf(sweepId: SweepId): Promise<TrialRecord[]> {
    const out: TrialRecord[] = [];
    for (let offset = 0; ; offset += 500) {
      const page = await this.#o.store.listTrials(sweepId, { offset, limit: 500 });
      out.push(...page.trials);
      if (page.trials.length === 0 || out.length >= page.total) return out;
    }
  }

  /** Plans (and unless dryRun, applies) one sweep's policy. Throws on an unknown sweep. */
  async collect(sweepId: SweepId, { dryRun = false } = {}): Promise<SweepGcReport> {
    const started = performance.now();
    const sweep = await this.#o.store.getSweep(sweepId);
    if (sweep === null) throw new Error(`no sweep with id ${sweepId}`);
    const { checkpoints } = this.#o;
    const records = await this.#trialsOf(sweepId);
    const trials: RetentionTrial[] = [];
    for (const t of records) {
      const [last, best] = await Promise.all([
        checkpoints.info(t.id, 'last'),
        checkpoints.info(t.id, 'best'),
      ]);
      trials.push({
        id: t.id,
        state: t.state,
        configKey: t.configKey,
        bestValue: t.bestValue,
        last,
        best,
      });
    }
    const plan = planRetention(
      trials,
      retentionOf(sweep.spec['parsed']),
      sweep.metric.goal,
      sweep.best?.trialIds ?? [],
    );
    let freedBytes = 0;
    if (!dryRun) {
      for (const d of plan.drop) freedBytes += await checkpoints.delete(d.trialId, [d.kind]);
    }
    // Orphans: versions in the store under a trial's prefix that neither pointer names.
    const target = await checkpoints.target();
    const cutoff = Date.now() - this.#o.orphanAgeMs;
    const orphans: { key: string; bytes: number }[] = [];
    for (const t of trials) {
      const named = new Set(
        CHECKPOINT_KINDS.map((k) => t[k]).flatMap((i) =>
          i !== null && i.store === target.scheme ? [i.key] : [],
        ),
      );
      for (const a of await target.list(trialArtifactPrefix(t.id))) {
        if (named.has(a.key) || a.savedAt > cutoff) continue;
        orphans.push({ key: a.key, bytes: a.bytes });
        if (!dryRun && (await target.delete(a.key))) freedBytes += a.bytes;
      }
    }
    const report: SweepGcReport = {
      sweepId,
      dryRun,
      drop: plan.drop,
      keep: plan.keep,
      orphans,
      freedBytes: dryRun ? plan.dropBytes + orphans.reduce((s, o) => s + o.bytes, 0) : freedBytes,
      ms: performance.now() - started,
    };
    if (!dryRun && (plan.drop.length > 0 || orphans.length > 0)) {
      this.#o.log.info(
        {
          sweepId,
          freedBytes,
          checkpoints: plan.drop.map((d) => `${d.trialId}:${d.kind}`),
          orphans: orphans.length,
          ms: Math.round(report.ms),
          store: target.location,
        },
        'checkpoint gc freed',
      );
    }
    return report;
  }

  /**
   * Deletes every checkpoint of these trials (both kinds, whatever the policy) and whatever
   * else their prefixes hold in the artifact store (crashed writes), after the pass in flight.
   * For a sweep being deleted. Returns how many artifacts went and their bytes.
   */
  deleteTrials(trialIds: readonly TrialId[]): Promise<{ checkpoints: number; freedBytes: number }> {
    const job = async (): Promise<{ checkpoints: number; freedBytes: number }> => {
      const { checkpoints } = this.#o;
      const target = await checkpoints.target();
      let count = 0;
      let freedBytes = 0;
      for (const id of trialIds) {
        for (const kind of CHECKPOINT_KINDS)
          if ((await checkpoints.info(id, kind)) !== null) count += 1;
        freedBytes += await checkpoints.delete(id);
        for (const a of await target.list(trialArtifactPrefix(id))) {
          if (await target.delete(a.key)) {
            count += 1;
            freedBytes += a.bytes;
          }
        }
      }
      return { checkpoints: count, freedBytes };
    };
    return this.#serialised(job);
  }

  /** One pass over every sweep, then the store's leftovers of crashed writes. */
  async collectAll(): Promise<{ freedBytes: number; sweeps: number }> {
    let freedBytes = 0;
    const sweeps = await this.#o.store.listSweeps();
    for (const s of sweeps) {
      try {
        freedBytes += (await this.collect(s.id)).freedBytes;
      } catch (err) {
        this.#o.log.warn({ err, sweepId: s.id }, 'checkpoint gc of a sweep failed');
      }
    }
    const target = await this.#o.checkpoints.target();
    const purged = await target.purgeIncomplete(this.#o.orphanAgeMs);
    if (purged.items > 0) {
      this.#o.log.info(
        { ...purged, store: target.location },
        'checkpoint gc purged unfinished writes',
      );
    }
    return { freedBytes: freedBytes + purged.bytes, sweeps: sweeps.length };
  }

  /** Runs `job` after the one in flight, so passes and deletions never overlap; its result. */
  #serialised<T>(job: () => Promise<T>): Promise<T> {
    const result = (this.#running ?? Promise.resolve()).then(job);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.#running = settled;
    void settled.finally(() => {
      if (this.#running === settled) this.#running = null;
    });
    return result;
  }

  /** A pass, serialised like every job; its failure is logged, not thrown. */
  #enqueue(job: () => Promise<unknown>, what: string): Promise<void> {
    return this.#serialised(job).then(
      () => undefined,
      (err: unknown) => this.#o.log.warn({ err }, `checkpoint gc ${what} failed`),
    );
  }

  /**
   * Runs a pass now and then every intervalMs, and a sweep's pass shortly after any of its
   * trials changes (a trial that ends frees its checkpoints within about a second).
   */
  start(): void {
    const pass = (): void => {
      if (this.#running === null) void this.#enqueue(() => this.collectAll(), 'pass');
    };
    pass();
    this.#timer = setInterval(pass, this.#o.intervalMs);
    this.#timer.unref();
    void this.#o.store
      .subscribe((e) => {
        if (e.kind === 'trial' && e.sweepId !== null) this.#soon(e.sweepId);
      })
      .then(
        (stop) => {
          if (this.#closed) void stop();
          else this.#unsubscribe = stop;
        },
        (err: unknown) => this.#o.log.warn({ err }, 'checkpoint gc cannot follow trial changes'),
      );
  }

  #soon(sweepId: SweepId): void {
    if (this.#closed || this.#pending.has(sweepId)) return;
    const timer = setTimeout(() => {
      this.#pending.delete(sweepId);
      void this.#enqueue(() => this.collect(sweepId), `pass of sweep ${sweepId}`);
    }, this.#o.debounceMs);
    timer.unref();
    this.#pending.set(sweepId, timer);
  }

  /**
   * Stops the timers and runs one last pass (bounded by `finalPassMs`, so a Redis that is gone
   * cannot hold up a shutdown): what ended just before the stop is freed too. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    for (const t of this.#pending.values()) clearTimeout(t);
    this.#pending.clear();
    await this.#unsubscribe?.().catch(() => undefined);
    const final = this.#enqueue(() => this.collectAll(), 'final pass');
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([
      final,
      new Promise<void>((resolve) => {
        timeout = setTimeout(resolve, this.#o.finalPassMs);
      }),
    ]);
    clearTimeout(timeout);
  }
}
