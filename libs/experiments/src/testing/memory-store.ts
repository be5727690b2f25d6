/**
 * An ExperimentStoreApi held in memory, for unit tests of the logic above the store (the trial
 * manager, the sweep controller): no Redis, so such a test runs in milliseconds. It behaves as
 * ExperimentStore does, which `experimentStoreContract` (store-contract.ts) checks by running
 * the same suite against both:
 *
 * - records go through JSON on the way in and out, as they do in Redis: a caller never holds
 *   the stored object, and NaN comes back as null;
 * - ids are checked as the Redis keys check them; updates of a missing record throw
 *   RecordNotFoundError; addEpoch replaces re-sent epochs and recomputes the best value;
 * - curves keep float64 points in append order, downsampled on read with the same cursor;
 * - every write publishes the same ChangeEvent, delivered asynchronously as pub/sub is.
 */
import { downsample } from '../downsample.js';
import { RecordNotFoundError } from '../errors.js';
import { checkRecordId } from '../keys.js';
import type { Curve, ExperimentStoreApi, TrialQuery } from '../store-api.js';
import { epochObjective } from '../store.js';
import { queryTrials } from '../trial-query.js';
import type {
  ChangeEvent,
  CurvePoint,
  EpochEntry,
  SweepId,
  SweepRecord,
  TrialCounts,
  TrialEvent,
  TrialId,
  TrialRecord,
  WorkerSnapshot,
} from '../types.js';

const DEFAULT_MAX_POINTS = 1000;

/** A copy as Redis would give it back (JSON: no shared objects, NaN -> null). */
function viaJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function better(a: number, b: number, goal: 'minimize' | 'maximize'): boolean {
  return goal === 'minimize' ? a < b : a > b;
}

function parseCursor(cursor: string): number {
  if (!/^\d{1,15}$/.test(cursor)) {
    throw new RangeError(
      `bad curve cursor ${JSON.stringify(cursor)}: pass back a cursor the store returned`,
    );
  }
  return Number(cursor);
}

export class MemoryExperimentStore implements ExperimentStoreApi {
  readonly #sweeps = new Map<SweepId, string>();
  readonly #sweepEvents = new Map<SweepId, TrialEvent[]>();
  readonly #trials = new Map<TrialId, string>();
  readonly #epochs = new Map<TrialId, EpochEntry[]>();
  readonly #events = new Map<TrialId, TrialEvent[]>();
  readonly #curves = new Map<TrialId, Map<string, CurvePoint[]>>();
  #workers: WorkerSnapshot[] = [];
  readonly #subscribers = new Set<(event: ChangeEvent) => void>();

  // Sweeps

  async putSweep(sweep: SweepRecord): Promise<void> {
    checkRecordId('sweep', sweep.id);
    this.#sweeps.set(sweep.id, JSON.stringify(sweep));
    await this.publish({ kind: 'sweep', sweepId: sweep.id });
  }

  async getSweep(id: SweepId): Promise<SweepRecord | null> {
    checkRecordId('sweep', id);
    const raw = this.#sweeps.get(id);
    return raw === undefined ? null : (JSON.parse(raw) as SweepRecord);
  }

  /** Newest first (ties: by id, as a Redis sorted set orders equal scores, reversed). */
  async listSweeps(): Promise<SweepRecord[]> {
    return [...this.#sweeps.values()]
      .map((raw) => JSON.parse(raw) as SweepRecord)
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
  }

  async updateSweep(id: SweepId, patch: Partial<Omit<SweepRecord, 'id'>>): Promise<SweepRecord> {
    const current = await this.getSweep(id);
    if (current === null) throw new RecordNotFoundError('sweep', id);
    const next = viaJson({ ...current, ...patch, id, updatedAt: patch.updatedAt ?? Date.now() });
    this.#sweeps.set(id, JSON.stringify(next));
    await this.publish({ kind: 'sweep', sweepId: id });
    return next;
  }

  async deleteSweep(id: SweepId): Promise<TrialId[]> {
    checkRecordId('sweep', id);
    const trialIds = this.#allTrials()
      .filter((t) => t.sweepId === id)
      .map((t) => t.id);
    for (const t of trialIds) {
      this.#trials.delete(t);
      this.#epochs.delete(t);
      this.#events.delete(t);
      this.#curves.delete(t);
    }
    this.#sweeps.delete(id);
    this.#sweepEvents.delete(id);
    await this.publish({ kind: 'sweep', sweepId: id });
    return trialIds;
  }

  async sweepCounts(id: SweepId): Promise<TrialCounts> {
    checkRecordId('sweep', id);
    const counts: TrialCounts = {
      queued: 0,
      running: 0,
      completed: 0,
      pruned: 0,
      failed: 0,
      cancelled: 0,
    };
    for (const t of this.#allTrials()) if (t.sweepId === id) counts[t.state] += 1;
    return counts;
  }

  // Trials

  async putTrial(trial: TrialRecord): Promise<void> {
    checkRecordId('trial', trial.id);
    if (trial.sweepId !== null) checkRecordId('sweep', trial.sweepId);
    this.#trials.set(trial.id, JSON.stringify(trial));
    await this.publish({ kind: 'trial', trialId: trial.id, sweepId: trial.sweepId });
  }

  async getTrial(id: TrialId): Promise<TrialRecord | null> {
    checkRecordId('trial', id);
    const raw = this.#trials.get(id);
    return raw === undefined ? null : (JSON.parse(raw) as TrialRecord);
  }

  async listTrials(
    sweepId: SweepId | null,
    query: TrialQuery = {},
  ): Promise<{ total: number; trials: TrialRecord[] }> {
    if (sweepId !== null) checkRecordId('sweep', sweepId);
    const all = this.#allTrials().filter((t) => sweepId === null || t.sweepId === sweepId);
    return queryTrials(all, query);
  }

  async updateTrial(id: TrialId, patch: Partial<Omit<TrialRecord, 'id'>>): Promise<TrialRecord> {
    const current = await this.getTrial(id);
    if (current === null) throw new RecordNotFoundError('trial', id);
    const next = viaJson({ ...current, ...patch, id });
    this.#trials.set(id, JSON.stringify(next));
    await this.publish({ kind: 'trial', trialId: id, sweepId: next.sweepId });
    return next;
  }

  async addEpoch(
    id: TrialId,
    entry: EpochEntry,
    metric: { name: string; goal: 'minimize' | 'maximize' },
  ): Promise<TrialRecord> {
    const value = epochObjective(entry, metric.name);
    const current = await this.getTrial(id);
    if (current === null) throw new RecordNotFoundError('trial', id);
    const stored = viaJson(entry);
    const kept = (this.#epochs.get(id) ?? []).filter((e) => e.epoch < entry.epoch);
    const history = [...kept, stored];
    let bestValue: number | null = null;
    let bestEpoch: number | null = null;
    for (const e of history) {
      const v = e === stored ? value : epochObjective(e, metric.name);
      if (v !== null && (bestValue === null || better(v, bestValue, metric.goal))) {
        bestValue = v;
        bestEpoch = e.epoch;
      }
    }
    const next: TrialRecord = viaJson({
      ...current,
      epochs: history.length,
      lastValue: value,
      bestValue,
      bestEpoch,
    });
    this.#epochs.set(id, history);
    this.#trials.set(id, JSON.stringify(next));
    await this.publish({ kind: 'trial', trialId: id, sweepId: next.sweepId });
    return next;
  }

  async epochs(id: TrialId): Promise<EpochEntry[]> {
    checkRecordId('trial', id);
    return viaJson(this.#epochs.get(id) ?? []);
  }

  async addEvent(id: TrialId, event: TrialEvent): Promise<void> {
    const trial = await this.getTrial(id);
    if (trial === null) throw new RecordNotFoundError('trial', id);
    const list = this.#events.get(id) ?? [];
    list.push(viaJson(event));
    this.#events.set(id, list);
    await this.publish({ kind: 'trial', trialId: id, sweepId: trial.sweepId });
  }

  async events(id: TrialId): Promise<TrialEvent[]> {
    checkRecordId('trial', id);
    return viaJson(this.#events.get(id) ?? []);
  }

  async addSweepEvent(id: SweepId, event: TrialEvent): Promise<void> {
    checkRecordId('sweep', id);
    const list = this.#sweepEvents.get(id) ?? [];
    list.push(viaJson(event));
    this.#sweepEvents.set(id, list);
    await this.publish({ kind: 'sweep', sweepId: id });
  }

  async sweepEvents(id: SweepId): Promise<TrialEvent[]> {
    checkRecordId('sweep', id);
    return viaJson(this.#sweepEvents.get(id) ?? []);
  }

  // Curves

  async appendPoints(
    id: TrialId,
    points: { name: string; step: number; value: number; at: number }[],
  ): Promise<void> {
    checkRecordId('trial', id);
    if (points.length === 0) return;
    const curves = this.#curves.get(id) ?? new Map<string, CurvePoint[]>();
    this.#curves.set(id, curves);
    const names: string[] = [];
    for (const p of points) {
      let list = curves.get(p.name);
      if (list === undefined) curves.set(p.name, (list = []));
      if (!names.includes(p.name)) names.push(p.name);
      list.push({ step: p.step, value: p.value, at: p.at });
    }
    await this.publish({ kind: 'points', trialId: id, names });
  }

  async curveNames(id: TrialId): Promise<string[]> {
    checkRecordId('trial', id);
    return [...(this.#curves.get(id)?.keys() ?? [])].sort();
  }

  async curve(
    id: TrialId,
    name: string,
    opts: { maxPoints?: number; after?: string } = {},
  ): Promise<Curve> {
    checkRecordId('trial', id);
    const all = this.#curves.get(id)?.get(name) ?? [];
    const total = all.length;
    const from = opts.after === undefined ? 0 : Math.min(parseCursor(opts.after), total);
    const points = downsample(all.slice(from, total), opts.maxPoints ?? DEFAULT_MAX_POINTS).map(
      (p) => ({ ...p }),
    );
    return { name, total, points, cursor: String(total) };
  }

  // Workers

  async putWorkers(workers: WorkerSnapshot[]): Promise<void> {
    this.#workers = viaJson(workers);
    await this.publish({ kind: 'workers' });
  }

  /** Sorted by name, then id. */
  async listWorkers(): Promise<WorkerSnapshot[]> {
    return viaJson(this.#workers).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1,
    );
  }

  // Changes

  /** Delivered after the current task, in publish order, as Redis pub/sub delivers them. */
  async publish(event: ChangeEvent): Promise<void> {
    const copy = JSON.stringify(event);
    for (const onEvent of this.#subscribers) {
      setImmediate(() => {
        if (this.#subscribers.has(onEvent)) onEvent(JSON.parse(copy) as ChangeEvent);
      });
    }
  }

  async subscribe(onEvent: (event: ChangeEvent) => void): Promise<() => Promise<void>> {
    // A wrapper per subscription, so one function subscribed twice is two subscribers.
    const subscriber = (event: ChangeEvent): void => onEvent(event);
    this.#subscribers.add(subscriber);
    return async () => {
      this.#subscribers.delete(subscriber);
    };
  }

  #allTrials(): TrialRecord[] {
    return [...this.#trials.values()].map((raw) => JSON.parse(raw) as TrialRecord);
  }
}
