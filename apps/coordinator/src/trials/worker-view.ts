/**
 * The workers as the dashboard shows them (`/api/workers`): what each live worker reports and
 * runs, its share of its group's throughput, and the recently lost ones (for ten minutes).
 */
import type { ExperimentStoreApi, TrialId, WorkerAdapter, WorkerSnapshot } from '@mmim/experiments';
import type { GpuAdapter__Output } from '@mmim/protocol';
import type { WorkerPool, WorkerRecord } from '../pool.js';

/** How long a lost worker stays on the list. */
const LOST_SHOWN_MS = 10 * 60_000;

/** The adapter a worker registered with, field by field (nothing else reaches the record). */
export function adapterSnapshot(a: GpuAdapter__Output | null): WorkerAdapter | null {
  if (a === null) return null;
  const l = a.limits;
  return {
    vendor: a.vendor,
    architecture: a.architecture,
    device: a.device,
    description: a.description,
    route: a.route,
    software: a.software,
    limits:
      l === null
        ? null
        : {
            maxBufferSize: l.maxBufferSize,
            maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
            maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
            maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
          },
  };
}

export class WorkerView {
  readonly #pool: WorkerPool;
  readonly #now: () => number;
  readonly #lost = new Map<string, WorkerSnapshot>();
  /** The last samples/s rank 0 reported per trial (its whole group's throughput). */
  readonly #throughput = new Map<TrialId, number>();

  constructor(pool: WorkerPool, now: () => number = Date.now) {
    this.#pool = pool;
    this.#now = now;
  }

  /** Rank 0's `train/samples_per_s` point: the group's throughput. */
  noteThroughput(trialId: TrialId, samplesPerSecond: number): void {
    this.#throughput.set(trialId, samplesPerSecond);
  }

  rememberLost(w: WorkerRecord): void {
    this.#lost.set(w.id, { ...this.snapshot(w), state: 'lost' });
    const cutoff = this.#now() - LOST_SHOWN_MS;
    for (const [id, s] of this.#lost) if (s.lastHeartbeat < cutoff) this.#lost.delete(id);
  }

  snapshot(w: WorkerRecord): WorkerSnapshot {
    const hb = w.reported;
    const state =
      hb?.state === 'WORKER_STATE_TRAINING'
        ? 'training'
        : hb?.state === 'WORKER_STATE_STOPPING'
          ? 'stopping'
          : 'idle';
    const groupRate = w.assignment ? this.#throughput.get(w.assignment.trialId) : undefined;
    return {
      id: w.id,
      name: w.capabilities.workerName,
      state,
      backend: w.capabilities.backend,
      device: w.capabilities.device,
      adapter: adapterSnapshot(w.capabilities.adapter),
      version: w.capabilities.version,
      trialId: w.assignment?.trialId ?? (hb?.trialId || null),
      rank: w.assignment?.rank ?? null,
      step: Number(hb?.step ?? 0),
      stepTimeMs: hb?.stepTimeMs ?? 0,
      // Each rank processes an equal share of the group's samples.
      samplesPerSecond:
        w.assignment && groupRate !== undefined ? groupRate / w.assignment.worldSize : null,
      lastHeartbeat: w.lastSeen,
      registeredAt: w.registeredAt,
    };
  }

  /** Live workers (registration order), then the recently lost. */
  snapshots(): WorkerSnapshot[] {
    const live = this.#pool.snapshot().map((s) => {
      const w = this.#pool.get(s.id);
      return w ? this.snapshot(w) : null;
    });
    return [...live.filter((s): s is WorkerSnapshot => s !== null), ...this.#lost.values()];
  }

  async publish(store: ExperimentStoreApi): Promise<void> {
    await store.putWorkers(this.snapshots());
  }
}
