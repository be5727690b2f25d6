import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Capabilities__Output, CoordinatorMessage, Heartbeat__Output } from '@mmim/protocol';

/** Where a worker is in its life at the coordinator. */
export type WorkerStatus =
  /** Registered, Session stream not (yet, or no longer) open; the lease still runs. */
  | 'registered'
  /** Session open. */
  | 'connected'
  /** No heartbeat for a whole lease: gone for good, its id is never reused. */
  | 'lost';

/** The scheduler's claim on a worker: it runs `rank` of trial `trialId`. */
export interface Assignment {
  readonly trialId: string;
  readonly rank: number;
  readonly worldSize: number;
}

/** A handle on one open Session stream, so a stale stream cannot detach its replacement. */
export interface SessionHandle {
  send(message: CoordinatorMessage): void;
}

export interface WorkerRecord {
  readonly id: string;
  readonly capabilities: Capabilities__Output;
  readonly registeredAt: number;
  status: WorkerStatus;
  /** When the lease was last renewed (registration or heartbeat), ms since the epoch. */
  lastSeen: number;
  /** The last heartbeat, null before the first. */
  reported: Heartbeat__Output | null;
  /** Set by the scheduler; authoritative over what heartbeats report. */
  assignment: Assignment | null;
  session: SessionHandle | null;
  /**
   * The secret handed out at registration: only a Session presenting it may speak for this
   * worker (ids are public; the join token is shared). Never leaves the pool but in the
   * RegisterResponse.
   */
  readonly sessionKey: string;
}

/** A read-only copy for logs, APIs and tests (no session, no key). */
export type WorkerSnapshot = Readonly<Omit<WorkerRecord, 'session' | 'sessionKey'>> & {
  hasSession: boolean;
};

/** Constant-time comparison of a presented key with the issued one. */
function sameKey(given: string, issued: string): boolean {
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(issued));
}

export interface WorkerPoolEvents {
  registered: [WorkerRecord];
  connected: [WorkerRecord];
  disconnected: [WorkerRecord];
  /** A worker may take work now (connected, unassigned, reporting idle). */
  idle: [WorkerRecord];
  lost: [WorkerRecord];
  /** Every accepted heartbeat (after the record was updated). */
  heartbeat: [WorkerRecord, Heartbeat__Output];
}

export interface WorkerPoolOptions {
  leaseMs: number;
  /** How often leases are checked; default leaseMs / 10, so loss is noticed within 1.1 leases. */
  sweepIntervalMs?: number;
  /** Injected in tests. */
  now?: () => number;
}

/**
 * The registry of workers and their leases. It holds state only; the gRPC service feeds it and
 * the scheduler reads it. Lost workers are dropped: a worker that comes back registers anew.
 */
export class WorkerPool extends EventEmitter<WorkerPoolEvents> {
  readonly leaseMs: number;
  readonly #workers = new Map<string, WorkerRecord>();
  readonly #now: () => number;
  readonly #sweepIntervalMs: number;
  #timer: NodeJS.Timeout | null = null;

  constructor(options: WorkerPoolOptions) {
    super();
    if (!(options.leaseMs > 0)) throw new Error(`leaseMs must be > 0, got ${options.leaseMs}`);
    this.leaseMs = options.leaseMs;
    this.#now = options.now ?? Date.now;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? Math.max(10, options.leaseMs / 10);
  }

  /** Starts the lease timer (unref'd: it never keeps the process alive on its own). */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.sweep(), this.#sweepIntervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  register(capabilities: Capabilities__Output): WorkerRecord {
    const now = this.#now();
    const record: WorkerRecord = {
      id: randomUUID(),
      capabilities,
      registeredAt: now,
      status: 'registered',
      lastSeen: now,
      reported: null,
      assignment: null,
      session: null,
      sessionKey: randomBytes(32).toString('hex'),
    };
    this.#workers.set(record.id, record);
    this.emit('registered', record);
    return record;
  }

  /**
   * Binds a Session stream to a worker, if it presents the worker's session key; a newer stream
   * of the same worker replaces an older one (it reconnected before the old one timed out).
   * Undefined for unknown or lost workers, 'denied' for a wrong key (another client using a
   * public worker id: it must not take the worker's place).
   */
  attach(
    workerId: string,
    session: SessionHandle,
    sessionKey: string,
  ): WorkerRecord | 'denied' | undefined {
    const record = this.#workers.get(workerId);
    if (!record) return undefined;
    if (!sameKey(sessionKey, record.sessionKey)) return 'denied';
    record.session = session;
    record.status = 'connected';
    record.lastSeen = this.#now();
    this.emit('connected', record);
    return record;
  }

  /** Only the stream currently bound detaches the worker; its lease keeps running. */
  detach(workerId: string, session: SessionHandle): void {
    const record = this.#workers.get(workerId);
    if (!record || record.session !== session) return;
    record.session = null;
    record.status = 'registered';
    this.emit('disconnected', record);
  }

  /**
   * Renews the lease; false when the worker is unknown or lost (it must register again), 'stale'
   * when `session` is not the worker's bound stream (an older stream of it: it renews nothing).
   */
  heartbeat(
    workerId: string,
    heartbeat: Heartbeat__Output,
    session?: SessionHandle,
  ): boolean | 'stale' {
    const record = this.#workers.get(workerId);
    if (!record) return false;
    if (session !== undefined && record.session !== session) return 'stale';
    const wasIdle = this.isIdle(record);
    record.lastSeen = this.#now();
    record.reported = heartbeat;
    this.emit('heartbeat', record, heartbeat);
    if (!wasIdle && this.isIdle(record)) this.emit('idle', record);
    return true;
  }

  /** Marks workers whose lease expired as lost and drops them. */
  sweep(): WorkerRecord[] {
    const now = this.#now();
    const lost: WorkerRecord[] = [];
    for (const record of this.#workers.values()) {
      if (now - record.lastSeen > this.leaseMs) lost.push(record);
    }
    for (const record of lost) {
      this.#workers.delete(record.id);
      record.status = 'lost';
      record.session = null;
      this.emit('lost', record);
    }
    return lost;
  }

  get(workerId: string): WorkerRecord | undefined {
    return this.#workers.get(workerId);
  }

  /**
   * Connected, not claimed by the scheduler, and reporting idle: a worker still reporting a
   * trial from before a coordinator restart is not idle until it says so.
   */
  isIdle(record: WorkerRecord): boolean {
    return (
      record.status === 'connected' &&
      record.assignment === null &&
      record.reported?.state === 'WORKER_STATE_IDLE'
    );
  }

  /** Idle workers, oldest registration first (a stable order makes placements predictable). */
  idleWorkers(): WorkerRecord[] {
    return [...this.#workers.values()].filter((w) => this.isIdle(w));
  }

  snapshot(): WorkerSnapshot[] {
    return [...this.#workers.values()].map(({ session, sessionKey: _key, ...rest }) => ({
      ...rest,
      hasSession: session !== null,
    }));
  }

  get size(): number {
    return this.#workers.size;
  }
}
