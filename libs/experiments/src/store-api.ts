/**
 * The contract of the Redis experiment store (implemented by `ExperimentStore` in store.ts).
 * Writers: the coordinator (sweeps, trials, epochs, events, curves, worker snapshots).
 * Readers: the dashboard API, the CLI. Every write that readers care about publishes a
 * ChangeEvent on the change channel.
 *
 * Keys (`<p>:` is the configurable prefix, default "mmim:"; one trial's keys share the
 * `{trial:ID}` hash tag, one sweep's the `{sweep:ID}` tag, so Redis Cluster keeps each group
 * on one slot):
 *   <p>:sweeps                       zset  sweepId by createdAt
 *   <p>:{sweep:ID}:meta              string SweepRecord JSON
 *   <p>:{sweep:ID}:trials            zset  trialId by number
 *   <p>:{sweep:ID}:events            list  sweep-level TrialEvent JSON
 *   <p>:trials                       zset  every trialId by createdAt
 *   <p>:{trial:ID}:meta              string TrialRecord JSON
 *   <p>:{trial:ID}:epochs            list  EpochEntry JSON
 *   <p>:{trial:ID}:events            list  TrialEvent JSON
 *   <p>:{trial:ID}:curves            set   curve names
 *   <p>:{trial:ID}:curve:<name>      string points packed as little-endian float64 triples
 *                                           (step, value, at ms): 24 bytes per point, in
 *                                           append order (APPEND to write, GETRANGE to read)
 *   <p>:workers                      hash  workerId -> WorkerSnapshot JSON
 *   <p>:changes                      pub/sub channel of ChangeEvent JSON
 */
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
} from './types.js';

/** A curve downsampled on the server: at most `maxPoints` points, extremes kept. */
export interface Curve {
  name: string;
  /** Points in the stored series before downsampling. */
  total: number;
  points: CurvePoint[];
  /**
   * Opaque; pass it back as `after` for only the points appended since (today the number of
   * points in the series when it was read, as a decimal string).
   */
  cursor: string;
}

export interface TrialQuery {
  /** Sort key: "number" | "state" | "epochs" | "bestValue" | "lastValue" | "createdAt" | "param:<name>". */
  sort?: string;
  order?: 'asc' | 'desc';
  state?: TrialRecord['state'][];
  /** Case-insensitive text filter over id, configKey, state, params (as JSON) and error. */
  q?: string;
  offset?: number;
  limit?: number;
}

export interface ExperimentStoreApi {
  // Sweeps
  putSweep(sweep: SweepRecord): Promise<void>;
  getSweep(id: SweepId): Promise<SweepRecord | null>;
  listSweeps(): Promise<SweepRecord[]>;
  /** Updates chosen fields (read-modify-write under WATCH; retries on conflict). */
  updateSweep(id: SweepId, patch: Partial<Omit<SweepRecord, 'id'>>): Promise<SweepRecord>;
  sweepCounts(id: SweepId): Promise<TrialCounts>;
  /**
   * Removes a sweep and its trials from the record: their records, epochs, events and curves,
   * and every other key under their hash tags (checkpoint pointers and fences, live-state
   * fences), so delete the checkpoints' bytes first (CheckpointStore.delete). Returns the ids
   * of the trials removed; an unknown sweep removes nothing. The caller decides whether the
   * sweep may go (the coordinator: only once it and all its trials have ended).
   */
  deleteSweep(id: SweepId): Promise<TrialId[]>;

  // Trials
  putTrial(trial: TrialRecord): Promise<void>;
  getTrial(id: TrialId): Promise<TrialRecord | null>;
  /** Trials of one sweep (or every trial when sweepId is null), filtered, sorted and paged. */
  listTrials(
    sweepId: SweepId | null,
    query?: TrialQuery,
  ): Promise<{ total: number; trials: TrialRecord[] }>;
  updateTrial(id: TrialId, patch: Partial<Omit<TrialRecord, 'id'>>): Promise<TrialRecord>;
  /** Appends the epoch and updates epochs/lastValue/bestValue/bestEpoch by the sweep's metric. */
  addEpoch(
    id: TrialId,
    entry: EpochEntry,
    metric: { name: string; goal: 'minimize' | 'maximize' },
  ): Promise<TrialRecord>;
  epochs(id: TrialId): Promise<EpochEntry[]>;
  addEvent(id: TrialId, event: TrialEvent): Promise<void>;
  events(id: TrialId): Promise<TrialEvent[]>;
  addSweepEvent(id: SweepId, event: TrialEvent): Promise<void>;
  sweepEvents(id: SweepId): Promise<TrialEvent[]>;

  // Curves
  appendPoints(
    id: TrialId,
    points: { name: string; step: number; value: number; at: number }[],
  ): Promise<void>;
  curveNames(id: TrialId): Promise<string[]>;
  /** Downsampled (min/max per bucket, first and last kept) when longer than maxPoints. */
  curve(id: TrialId, name: string, opts?: { maxPoints?: number; after?: string }): Promise<Curve>;

  // Workers
  putWorkers(workers: WorkerSnapshot[]): Promise<void>;
  listWorkers(): Promise<WorkerSnapshot[]>;

  // Changes
  publish(event: ChangeEvent): Promise<void>;
  /** Calls `onEvent` for every change until the returned function is called. */
  subscribe(onEvent: (event: ChangeEvent) => void): Promise<() => Promise<void>>;
}
