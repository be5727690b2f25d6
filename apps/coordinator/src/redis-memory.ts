/**
 * Redis memory, watched: the coordinator samples `used_memory` and `maxmemory` (INFO memory),
 * exports both on /metrics, and refuses to start new trials once Redis is at `refuseAt` (90%)
 * of `maxmemory`, so a full Redis stops new work with a clear message instead of failing the
 * running trials' steps, reports and queue writes mid-way. Starting resumes below `resumeAt`
 * (85%): the gap keeps one trial's checkpoint from flapping the gate. A Redis without
 * `maxmemory` (0) is never refused (it grows until the host runs out: set one).
 */
import type { Cluster, Redis } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '@mmim/runtime';

export interface RedisMemoryState {
  usedBytes: number;
  /** 0: no limit set. */
  maxBytes: number;
  /** used / max; 0 without a limit. */
  fraction: number;
  /** True while new trials are refused. */
  refusing: boolean;
  /** Why trials are refused (null when they are not): for logs, the API and the dashboard. */
  message: string | null;
  sampledAt: number;
}

export interface RedisMemoryWatchOptions {
  redis: Redis | Cluster;
  log: Logger;
  /** Gauges go here (the coordinator's /metrics registry); none when absent. */
  registry?: Registry;
  /** Refuse new trials from this fraction of maxmemory; default 0.9. */
  refuseAt?: number;
  /** Start them again below this fraction; default 0.85. */
  resumeAt?: number;
  /** Sampling period; default 5 s. */
  intervalMs?: number;
}

/** `used_memory` and `maxmemory` from an INFO memory reply. */
export function parseInfoMemory(info: string): { usedBytes: number; maxBytes: number } {
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:(\\d+)\\r?$`, 'm').exec(info);
    if (m === null) throw new Error(`INFO memory has no ${name} field`);
    return Number(m[1]);
  };
  return { usedBytes: field('used_memory'), maxBytes: field('maxmemory') };
}

const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MiB`;

export class RedisMemoryWatch {
  readonly #o: Required<Omit<RedisMemoryWatchOptions, 'registry'>>;
  #state: RedisMemoryState = {
    usedBytes: 0,
    maxBytes: 0,
    fraction: 0,
    refusing: false,
    message: null,
    sampledAt: 0,
  };
  #timer: NodeJS.Timeout | null = null;

  constructor(options: RedisMemoryWatchOptions) {
    this.#o = { refuseAt: 0.9, resumeAt: 0.85, intervalMs: 5000, ...options };
    if (!(this.#o.resumeAt > 0 && this.#o.resumeAt <= this.#o.refuseAt && this.#o.refuseAt <= 1)) {
      throw new Error(
        `redis memory watch: need 0 < resumeAt <= refuseAt <= 1 (got ${this.#o.resumeAt}, ${this.#o.refuseAt})`,
      );
    }
    const registers = options.registry === undefined ? [] : [options.registry];
    const state = (): RedisMemoryState => this.#state;
    new Gauge({
      name: 'mmim_redis_used_memory_bytes',
      help: "The durable Redis's used_memory (INFO memory)",
      registers,
      collect() {
        this.set(state().usedBytes);
      },
    });
    new Gauge({
      name: 'mmim_redis_maxmemory_bytes',
      help: "The durable Redis's maxmemory (0: no limit)",
      registers,
      collect() {
        this.set(state().maxBytes);
      },
    });
    new Gauge({
      name: 'mmim_trial_starts_refused',
      help: '1 while new trials are refused because Redis is nearly full',
      registers,
      collect() {
        this.set(state().refusing ? 1 : 0);
      },
    });
  }

  get state(): RedisMemoryState {
    return this.#state;
  }

  /** Why a trial may not start now, or null: the dispatcher's gate. */
  refusal(): string | null {
    return this.#state.message;
  }

  async sample(): Promise<RedisMemoryState> {
    const node = this.#o.redis.isCluster
      ? (this.#o.redis as Cluster).nodes('master')
      : [this.#o.redis as Redis];
    // On a Cluster the fullest master decides: it is the one whose writes fail first.
    let worst = { usedBytes: 0, maxBytes: 0, fraction: 0 };
    for (const n of node) {
      const m = parseInfoMemory(await n.info('memory'));
      const fraction = m.maxBytes > 0 ? m.usedBytes / m.maxBytes : 0;
      if (fraction >= worst.fraction) worst = { ...m, fraction };
    }
    const was = this.#state.refusing;
    const refusing =
      worst.maxBytes > 0 &&
      (was ? worst.fraction >= this.#o.resumeAt : worst.fraction >= this.#o.refuseAt);
    const message = refusing
      ? `Redis is ${(worst.fraction * 100).toFixed(0)}% full (${mib(worst.usedBytes)} of maxmemory ${mib(worst.maxBytes)}): new trials wait until it is below ${(this.#o.resumeAt * 100).toFixed(0)}%; free checkpoints (mmim sweep gc ID), move them off Redis (--artifacts dir:/s3://) or raise maxmemory`
      : null;
    this.#state = { ...worst, refusing, message, sampledAt: Date.now() };
    if (refusing && !was) this.#o.log.warn({ ...worst }, message ?? '');
    if (!refusing && was)
      this.#o.log.info({ ...worst }, 'Redis has room again: trials start again');
    return this.#state;
  }

  start(): void {
    const tick = (): void => {
      this.sample().catch((err: unknown) => this.#o.log.warn({ err }, 'cannot read Redis memory'));
    };
    tick();
    this.#timer = setInterval(tick, this.#o.intervalMs);
    this.#timer.unref();
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}
