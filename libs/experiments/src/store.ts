/**
 * ExperimentStore: the experiment record in Redis (key layout in store-api.ts).
 *
 * Records are JSON strings. Updates are read-modify-write in TypeScript, applied by a Lua
 * compare-and-set (scripts.ts) and retried on conflict, so two coordinators (or two handlers of
 * one) updating the same trial never lose each other's fields. Index keys (`sweeps`, `trials`,
 * a sweep's trial set) live on other slots than the records, so they are written with separate
 * commands after the record: a reader that finds an id in an index always finds its record.
 * Every write readers care about publishes one ChangeEvent on `<prefix>changes`.
 */
import { Cluster, type Redis } from 'ioredis';
import { POINT_BYTES, packPoints, unpackDownsampled } from './curve-codec.js';
import { RecordNotFoundError, StoreConflictError } from './errors.js';
import { StoreKeys } from './keys.js';
import { compareAndSet } from './scripts.js';
import type { Curve, ExperimentStoreApi, TrialQuery } from './store-api.js';
import { queryTrials } from './trial-query.js';
import type {
  ChangeEvent,
  EpochEntry,
  SweepId,
  SweepRecord,
  TrialCounts,
  TrialEvent,
  TrialId,
  TrialRecord,
  WorkerSnapshot,
} from './types.js';

/** Points per GETRANGE when reading a curve (960 KB): bounded replies keep Redis responsive. */
const CURVE_PAGE = 40_000;
const DEFAULT_MAX_POINTS = 1000;
/** Compare-and-set attempts before giving up (each retry waits a little longer). */
const MAX_ATTEMPTS = 100;
/** MGET batch size: keeps each reply (and the time Redis spends on it) small. */
const MGET_BATCH = 500;

type RecordKind = 'sweep' | 'trial';

function emptyCounts(): TrialCounts {
  return { queued: 0, running: 0, completed: 0, pruned: 0, failed: 0, cancelled: 0 };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The objective of one epoch: `split.metric` of the entry ("valid.mae", "test.acc2"). */
export function epochObjective(entry: EpochEntry, metric: string): number | null {
  const dot = metric.indexOf('.');
  const split = metric.slice(0, dot);
  const name = metric.slice(dot + 1);
  if (dot <= 0 || (split !== 'valid' && split !== 'test')) {
    throw new RangeError(
      `metric ${JSON.stringify(metric)} must be "valid.<name>" or "test.<name>"`,
    );
  }
  const value = entry[split][name];
  if (value === undefined) {
    throw new RangeError(
      `epoch ${entry.epoch} has no ${split} metric ${JSON.stringify(name)} (has ${Object.keys(entry[split]).join(', ')})`,
    );
  }
  // JSON turns NaN/Infinity into null; a diverged epoch simply has no objective.
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function better(a: number, b: number, goal: 'minimize' | 'maximize'): boolean {
  return goal === 'minimize' ? a < b : a > b;
}

export class ExperimentStore implements ExperimentStoreApi {
  private readonly keys: StoreKeys;

  constructor(
    private readonly redis: Redis | Cluster,
    readonly prefix = 'mmim:',
  ) {
    this.keys = new StoreKeys(prefix);
  }

  // ---------------------------------------------------------------- sweeps

  async putSweep(sweep: SweepRecord): Promise<void> {
    await this.redis.set(this.keys.sweepMeta(sweep.id), JSON.stringify(sweep));
    await this.redis.zadd(this.keys.sweeps(), sweep.createdAt, sweep.id);
    await this.publish({ kind: 'sweep', sweepId: sweep.id });
  }

  async getSweep(id: SweepId): Promise<SweepRecord | null> {
    const raw = await this.redis.get(this.keys.sweepMeta(id));
    return raw === null ? null : (JSON.parse(raw) as SweepRecord);
  }

  /** Newest first. */
  async listSweeps(): Promise<SweepRecord[]> {
    const ids = await this.redis.zrevrange(this.keys.sweeps(), 0, -1);
    const raws = await this.getMany(ids.map((id) => this.keys.sweepMeta(id)));
    return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as SweepRecord);
  }

  async updateSweep(id: SweepId, patch: Partial<Omit<SweepRecord, 'id'>>): Promise<SweepRecord> {
    const next = await this.update<SweepRecord>('sweep', id, this.keys.sweepMeta(id), (cur) => ({
      ...cur,
      ...patch,
      id,
      updatedAt: patch.updatedAt ?? Date.now(),
    }));
    await this.publish({ kind: 'sweep', sweepId: id });
    return next;
  }

  async sweepCounts(id: SweepId): Promise<TrialCounts> {
    const counts = emptyCounts();
    for (const t of await this.sweepTrials(id)) counts[t.state] += 1;
    return counts;
  }

  async deleteSweep(id: SweepId): Promise<TrialId[]> {
    const trialIds = await this.redis.zrange(this.keys.sweepTrials(id), '0', '-1');
    // Every key of the sweep's and its trials' hash tags: one SCAN over each master (a tag's
    // keys share one slot), instead of naming keys other modules own.
    const prefixes = new Set(
      [this.keys.sweepTag(id), ...trialIds.map((t) => this.keys.trialTag(t))].map((t) => `${t}:`),
    );
    const nodes = this.redis instanceof Cluster ? this.redis.nodes('master') : [this.redis];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${this.prefix}{*`, 'COUNT', 1000);
        cursor = next;
        const mine = keys.filter((k) => prefixes.has(k.slice(0, k.indexOf('}:') + 2)));
        // One UNLINK per key (on a Cluster a multi-key UNLINK must stay in one slot), all of a
        // page in one round trip to the node that holds them.
        if (mine.length > 0) {
          const tx = node.pipeline();
          for (const k of mine) tx.unlink(k);
          const failed = (await tx.exec())?.find(([err]) => err !== null);
          if (failed !== undefined) {
            throw new Error(`deleting sweep ${id}'s keys failed: ${String(failed[0])}`);
          }
        }
      } while (cursor !== '0');
    }
    if (trialIds.length > 0) await this.redis.zrem(this.keys.trials(), ...trialIds);
    await this.redis.zrem(this.keys.sweeps(), id);
    await this.publish({ kind: 'sweep', sweepId: id });
    return trialIds;
  }

  // ---------------------------------------------------------------- trials

  async putTrial(trial: TrialRecord): Promise<void> {
    await this.redis.set(this.keys.trialMeta(trial.id), JSON.stringify(trial));
    if (trial.sweepId !== null) {
      await this.redis.zadd(this.keys.sweepTrials(trial.sweepId), trial.number, trial.id);
    }
    await this.redis.zadd(this.keys.trials(), trial.createdAt, trial.id);
    await this.publish({ kind: 'trial', trialId: trial.id, sweepId: trial.sweepId });
  }

  async getTrial(id: TrialId): Promise<TrialRecord | null> {
    const raw = await this.redis.get(this.keys.trialMeta(id));
    return raw === null ? null : (JSON.parse(raw) as TrialRecord);
  }

  async listTrials(
    sweepId: SweepId | null,
    query: TrialQuery = {},
  ): Promise<{ total: number; trials: TrialRecord[] }> {
    const all = sweepId === null ? await this.allTrials() : await this.sweepTrials(sweepId);
    return queryTrials(all, query);
  }

  async updateTrial(id: TrialId, patch: Partial<Omit<TrialRecord, 'id'>>): Promise<TrialRecord> {
    const next = await this.update<TrialRecord>('trial', id, this.keys.trialMeta(id), (cur) => ({
      ...cur,
      ...patch,
      id,
    }));
    await this.publish({ kind: 'trial', trialId: id, sweepId: next.sweepId });
    return next;
  }

  /**
   * Appends the epoch and recomputes epochs/lastValue/bestValue/bestEpoch. A trial resumed
   * from an earlier checkpoint reports some epochs again: an entry whose epoch number is
   * already recorded replaces it and drops the later ones, so the table never shows an epoch
   * twice and the best value only counts epochs of the run that continues.
   */
  async addEpoch(
    id: TrialId,
    entry: EpochEntry,
    metric: { name: string; goal: 'minimize' | 'maximize' },
  ): Promise<TrialRecord> {
    const value = epochObjective(entry, metric.name);
    const metaKey = this.keys.trialMeta(id);
    const listKey = this.keys.trialEpochs(id);
    const pushed = JSON.stringify(entry);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const raw = await this.redis.get(metaKey);
      if (raw === null) throw new RecordNotFoundError('trial', id);
      const cur = JSON.parse(raw) as TrialRecord;
      const previous = (await this.redis.lrange(listKey, 0, -1)).map(
        (r) => JSON.parse(r) as EpochEntry,
      );
      const kept = previous.filter((e) => e.epoch < entry.epoch);
      const history = [...kept, entry];
      let bestValue: number | null = null;
      let bestEpoch: number | null = null;
      for (const e of history) {
        const v = e === entry ? value : epochObjective(e, metric.name);
        if (v !== null && (bestValue === null || better(v, bestValue, metric.goal))) {
          bestValue = v;
          bestEpoch = e.epoch;
        }
      }
      const next: TrialRecord = {
        ...cur,
        epochs: history.length,
        lastValue: value,
        bestValue,
        bestEpoch,
      };
      const applied = await compareAndSet(this.redis, metaKey, raw, JSON.stringify(next), {
        key: listKey,
        keep: kept.length,
        push: pushed,
      });
      if (applied) {
        await this.publish({ kind: 'trial', trialId: id, sweepId: next.sweepId });
        return next;
      }
      await sleep(Math.random() * attempt);
    }
    throw new StoreConflictError('trial', id, MAX_ATTEMPTS);
  }

  async epochs(id: TrialId): Promise<EpochEntry[]> {
    const raws = await this.redis.lrange(this.keys.trialEpochs(id), 0, -1);
    return raws.map((r) => JSON.parse(r) as EpochEntry);
  }

  async addEvent(id: TrialId, event: TrialEvent): Promise<void> {
    const trial = await this.getTrial(id);
    if (trial === null) throw new RecordNotFoundError('trial', id);
    await this.redis.rpush(this.keys.trialEvents(id), JSON.stringify(event));
    await this.publish({ kind: 'trial', trialId: id, sweepId: trial.sweepId });
  }

  async events(id: TrialId): Promise<TrialEvent[]> {
    const raws = await this.redis.lrange(this.keys.trialEvents(id), 0, -1);
    return raws.map((r) => JSON.parse(r) as TrialEvent);
  }

  async addSweepEvent(id: SweepId, event: TrialEvent): Promise<void> {
    await this.redis.rpush(this.keys.sweepEvents(id), JSON.stringify(event));
    await this.publish({ kind: 'sweep', sweepId: id });
  }

  async sweepEvents(id: SweepId): Promise<TrialEvent[]> {
    const raws = await this.redis.lrange(this.keys.sweepEvents(id), 0, -1);
    return raws.map((r) => JSON.parse(r) as TrialEvent);
  }

  // ---------------------------------------------------------------- curves

  /**
   * One MULTI (every key shares the trial's slot): the names join the curve set and each
   * curve's points are APPENDed as one packed run, then one 'points' change is published.
   */
  async appendPoints(
    id: TrialId,
    points: { name: string; step: number; value: number; at: number }[],
  ): Promise<void> {
    if (points.length === 0) return;
    const byName = new Map<string, { step: number; value: number; at: number }[]>();
    for (const p of points) {
      const list = byName.get(p.name);
      if (list === undefined) byName.set(p.name, [p]);
      else list.push(p);
    }
    const names = [...byName.keys()];
    const tx = this.redis.multi().sadd(this.keys.trialCurves(id), ...names);
    for (const [name, list] of byName) tx.append(this.keys.trialCurve(id, name), packPoints(list));
    const results = await tx.exec();
    const failed = results?.find(([err]) => err !== null);
    if (results === null || failed !== undefined) {
      throw new Error(
        `appending ${points.length} points to trial ${id} failed: ${String(failed?.[0] ?? 'transaction aborted')}`,
      );
    }
    await this.publish({ kind: 'points', trialId: id, names });
  }

  async curveNames(id: TrialId): Promise<string[]> {
    const names = await this.redis.smembers(this.keys.trialCurves(id));
    return names.sort();
  }

  /**
   * The curve, downsampled to at most `maxPoints` (default 1000) by min/max per bucket with
   * the first and last points kept (downsample.ts). With `after` (the cursor of an earlier
   * answer) only the points appended since come back, downsampled the same way if many.
   */
  async curve(
    id: TrialId,
    name: string,
    opts: { maxPoints?: number; after?: string } = {},
  ): Promise<Curve> {
    const maxPoints = opts.maxPoints ?? DEFAULT_MAX_POINTS;
    const key = this.keys.trialCurve(id, name);
    // Only whole points that exist now: appends racing with this read are left for the next.
    const total = Math.floor((await this.redis.strlen(key)) / POINT_BYTES);
    const from = opts.after === undefined ? 0 : Math.min(parseCursor(opts.after), total);
    const parts: Buffer[] = [];
    for (let i = from; i < total; i += CURVE_PAGE) {
      const end = Math.min(total, i + CURVE_PAGE);
      parts.push(await this.redis.getrangeBuffer(key, i * POINT_BYTES, end * POINT_BYTES - 1));
    }
    const packed = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
    const points = unpackDownsampled(packed, maxPoints);
    return { name, total, points, cursor: String(total) };
  }

  // ---------------------------------------------------------------- workers

  /** Replaces the whole worker snapshot (workers gone from the list disappear). */
  async putWorkers(workers: WorkerSnapshot[]): Promise<void> {
    const key = this.keys.workers();
    const tx = this.redis.multi().del(key);
    if (workers.length > 0) {
      tx.hset(key, Object.fromEntries(workers.map((w) => [w.id, JSON.stringify(w)])));
    }
    await tx.exec();
    await this.publish({ kind: 'workers' });
  }

  /** Sorted by name, then id. */
  async listWorkers(): Promise<WorkerSnapshot[]> {
    const all = await this.redis.hvals(this.keys.workers());
    return all
      .map((r) => JSON.parse(r) as WorkerSnapshot)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1));
  }

  // ---------------------------------------------------------------- changes

  async publish(event: ChangeEvent): Promise<void> {
    await this.redis.publish(this.keys.changes(), JSON.stringify(event));
  }

  /** Subscribes on a duplicate connection (a subscribed connection can do nothing else). */
  async subscribe(onEvent: (event: ChangeEvent) => void): Promise<() => Promise<void>> {
    const sub = this.redis instanceof Cluster ? this.redis.duplicate() : this.redis.duplicate();
    // The duplicate's connection errors go where the owner of our connection sends its own (a
    // logger, with the stack); unheard, ioredis prints them to the console as raw traces.
    sub.on('error', (err: Error) => {
      if (this.redis.listenerCount('error') > 0) this.redis.emit('error', err);
    });
    const channel = this.keys.changes();
    sub.on('message', (ch: string, message: string) => {
      if (ch !== channel) return;
      let event: ChangeEvent;
      try {
        event = JSON.parse(message) as ChangeEvent;
      } catch {
        return; // not ours: someone published garbage on the channel
      }
      onEvent(event);
    });
    await sub.subscribe(channel);
    let closed = false;
    return async () => {
      if (closed) return;
      closed = true;
      sub.removeAllListeners('message');
      try {
        await sub.unsubscribe(channel);
      } finally {
        sub.disconnect();
      }
    };
  }

  // ---------------------------------------------------------------- internals

  private async update<T extends object>(
    kind: RecordKind,
    id: string,
    key: string,
    apply: (current: T) => T,
  ): Promise<T> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const raw = await this.redis.get(key);
      if (raw === null) throw new RecordNotFoundError(kind, id);
      const next = apply(JSON.parse(raw) as T);
      if (await compareAndSet(this.redis, key, raw, JSON.stringify(next))) return next;
      await sleep(Math.random() * attempt);
    }
    throw new StoreConflictError(kind, id, MAX_ATTEMPTS);
  }

  private async sweepTrials(id: SweepId): Promise<TrialRecord[]> {
    const ids = await this.redis.zrange(this.keys.sweepTrials(id), '0', '-1');
    return this.trialsById(ids);
  }

  private async allTrials(): Promise<TrialRecord[]> {
    const ids = await this.redis.zrange(this.keys.trials(), '0', '-1');
    return this.trialsById(ids);
  }

  private async trialsById(ids: string[]): Promise<TrialRecord[]> {
    const raws = await this.getMany(ids.map((id) => this.keys.trialMeta(id)));
    return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as TrialRecord);
  }

  /**
   * GET of many keys. MGET in batches on a single Redis; on Cluster the keys live on many slots
   * (MGET would fail with CROSSSLOT), so one GET each, which ioredis spreads over the nodes.
   */
  private async getMany(keys: string[]): Promise<(string | null)[]> {
    if (this.redis instanceof Cluster) {
      return Promise.all(keys.map((k) => this.redis.get(k)));
    }
    const out: (string | null)[] = [];
    for (let i = 0; i < keys.length; i += MGET_BATCH) {
      out.push(...(await this.redis.mget(keys.slice(i, i + MGET_BATCH))));
    }
    return out;
  }
}

/** The point count a cursor stands for; throws naming a malformed cursor. */
function parseCursor(cursor: string): number {
  if (!/^\d{1,15}$/.test(cursor)) {
    throw new RangeError(
      `bad curve cursor ${JSON.stringify(cursor)}: pass back a cursor the store returned`,
    );
  }
  return Number(cursor);
}
