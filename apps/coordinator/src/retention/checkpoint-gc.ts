/**
 * The checkpoint GC: applies each sweep's retention policy (libs/experiments retention.ts) to
 * the checkpoints its trials left, and removes what crashed writes left behind (versions no
 * pointer names, temp files, unfinished uploads). Stateless and idempotent: every pass plans
 * from the record as it is, so a restart just runs the next pass (one runs at start), and a
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

  constructor(options: CheckpointGcOptions) {
    this.#o = { intervalMs: 60_000, orphanAgeMs: 60 * 60 * 1000, ...options };
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
    const plan = planRetention(trials, retentionOf(sweep.spec['parsed']), sweep.metric.goal);
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

  /** Runs a pass now and then every intervalMs; a pass never overlaps the previous one. */
  start(): void {
    const pass = (): void => {
      if (this.#running !== null) return;
      this.#running = this.collectAll()
        .then(() => undefined)
        .catch((err: unknown) => this.#o.log.warn({ err }, 'checkpoint gc pass failed'))
        .finally(() => {
          this.#running = null;
        });
    };
    pass();
    this.#timer = setInterval(pass, this.#o.intervalMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }
}
