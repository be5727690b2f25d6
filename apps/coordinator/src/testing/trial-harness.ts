/**
 * Unit-test harness of the trial manager: the real WorkerPool, GangScheduler and TrialManager
 * on the in-memory experiment store and queue, a clock the test moves, workers whose sessions
 * record what they were sent, and the gRPC service's events emitted by hand. Everything runs in
 * one process without timers or sockets, so a test takes milliseconds.
 */
import { EventEmitter } from 'node:events';
import { type TrialId, type TrialRecord } from '@mmim/experiments';
import { MemoryExperimentStore } from '@mmim/experiments/testing';
import type { CoordinatorMessage, Heartbeat__Output } from '@mmim/protocol';
import { createLogger } from '@mmim/runtime';
import { WorkerPool, type WorkerRecord } from '../pool.js';
import type { RegistryServiceEvents } from '../registry-service.js';
import { GangScheduler, type BackfillPolicy } from '../scheduler.js';
import { newTrialRecord } from '../trials/new-trial.js';
import type { TrialHooks } from '../trials/context.js';
import { TrialManager } from '../trials/trial-manager.js';
import { MemoryQueueState, MemoryTrialQueue } from './memory-queue.js';

process.env['MMIM_LOG_LEVEL'] ??= 'silent';
const log = createLogger('test');

export interface HarnessOptions {
  /** Shared with an earlier harness: "the coordinator restarted" on the same Redis. */
  store?: MemoryExperimentStore;
  queueState?: MemoryQueueState;
  hooks?: TrialHooks;
  backfill?: Partial<BackfillPolicy>;
  leaseMs?: number;
  adoptionGraceMs?: number;
  /** The last checkpoint's epoch per trial (none: a fresh start). */
  checkpoints?: Map<TrialId, number>;
}

export interface TestWorker {
  record: WorkerRecord;
  inbox: CoordinatorMessage[];
  beat(hb: Partial<Heartbeat__Output>): void;
}

/** Lets every pending promise and immediate run (the in-memory parts never wait on I/O). */
export async function settle(rounds = 30): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

export function trialHarness(o: HarnessOptions = {}) {
  let now = 1_000_000;
  const clock = (): number => now;
  const pool = new WorkerPool({ leaseMs: o.leaseMs ?? 1000, now: clock });
  const scheduler = new GangScheduler(pool, log, {
    now: clock,
    ...(o.backfill ? { backfill: o.backfill } : {}),
  });
  const registry = new EventEmitter<RegistryServiceEvents>();
  const store = o.store ?? new MemoryExperimentStore();
  const queue = new MemoryTrialQueue(o.queueState ?? new MemoryQueueState());
  const checkpoints = o.checkpoints ?? new Map<TrialId, number>();
  const manager = new TrialManager({
    pool,
    scheduler,
    registry,
    queue,
    store,
    checkpoints: {
      info: async (trialId: TrialId) => {
        const epoch = checkpoints.get(trialId);
        return epoch === undefined ? null : { epoch };
      },
    },
    log,
    adoptionGraceMs: o.adoptionGraceMs ?? 5000,
    now: clock,
    ...(o.hooks ? { hooks: o.hooks } : {}),
  });

  /** A registered, connected worker; idle unless told otherwise. */
  const join = (name: string, first: Partial<Heartbeat__Output> = {}): TestWorker => {
    const record = pool.register({
      workerName: name,
      backend: 'cpu',
      device: 'cpu',
      memoryBytes: 0,
      version: '0',
      adapter: null,
    });
    const inbox: CoordinatorMessage[] = [];
    pool.attach(record.id, { send: (m) => inbox.push(m) }, record.sessionKey);
    const beat = (hb: Partial<Heartbeat__Output>): void => {
      pool.heartbeat(record.id, {
        state: 'WORKER_STATE_IDLE',
        trialId: '',
        rank: 0,
        step: 0,
        stepTimeMs: 0,
        sentAtMs: 0,
        ...hb,
      });
    };
    beat(first);
    return { record, inbox, beat };
  };

  /** A lone trial of `workers` workers, recorded and queued. */
  const submit = async (id: string, workers = 1, over: Partial<TrialRecord> = {}) => {
    const trial = {
      ...newTrialRecord({
        id,
        sweepId: null,
        number: 0,
        configKey: id,
        params: {},
        seed: 1,
        workersPerTrial: workers,
        data: { kind: 'synthetic', dataset: 'mosi' },
        trainer: {},
      }),
      ...over,
    };
    await manager.submit(trial);
    await settle();
    return trial;
  };

  const trial = async (id: string): Promise<TrialRecord> => {
    const t = await store.getTrial(id);
    if (t === null) throw new Error(`no trial ${id}`);
    return t;
  };

  /** The trial ids a worker was assigned, in order. */
  const assigned = (w: TestWorker): string[] =>
    w.inbox.flatMap((m) => (m.assignTrial?.trialId ? [m.assignTrial.trialId] : []));
  const stopped = (w: TestWorker): string[] =>
    w.inbox.flatMap((m) => (m.stop?.trialId ? [m.stop.trialId] : []));

  /** An epoch report's record JSON (the trainer's EpochRecord as the worker sends it). */
  const epochJson = (mae: number): string =>
    JSON.stringify({
      valid: { mae, corr: 0.5, acc2_non0: 0.7, f1_non0: 0.7, loss: mae },
      test: { mae, corr: 0.5, acc2_non0: 0.7, f1_non0: 0.7, loss: mae },
      trainLoss: { stage0: null, stage1: 1 },
      lr: { main: 1e-3 },
      seconds: 1,
    });

  return {
    pool,
    scheduler,
    registry,
    store,
    queue,
    manager,
    checkpoints,
    join,
    submit,
    trial,
    assigned,
    stopped,
    epochJson,
    tick: (ms: number) => (now += ms),
    now: clock,
  };
}

export type TrialHarness = ReturnType<typeof trialHarness>;
