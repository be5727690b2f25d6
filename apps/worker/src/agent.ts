import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import {
  CLIENT_CHANNEL_OPTIONS,
  deadlineIn,
  HEARTBEATS_PER_LEASE,
  JOIN_TOKEN_METADATA_KEY,
  loadProtocol,
  UNARY_DEADLINES_MS,
  type Ack__Output,
  type AssignTrial__Output,
  type Capabilities,
  type CoordinatorMessage__Output,
  type EpochReport,
  type MetricPoint,
  type TrialEnded,
  type RegisterResponse__Output,
  type Stop__Output,
  type WorkerRegistryClient,
  type WorkerMessage,
  type WorkerState__Output,
} from '@mmim/protocol';
import type { Logger } from '@mmim/runtime';
import { backoffDelay, type BackoffOptions } from './backoff.js';

/** What the worker is doing, as its heartbeats report it. */
export interface WorkerActivity {
  state: WorkerState__Output;
  trialId: string;
  rank: number;
  step: number;
  stepTimeMs: number;
}

export interface WorkerAgentEvents {
  registered: [RegisterResponse__Output];
  /**
   * The trial runner (trial/runner.ts) listens here; it sets the activity the heartbeats
   * report (the agent cannot: an assignment may be refused while another trial runs).
   */
  assign: [AssignTrial__Output];
  stop: [Stop__Output];
}

/** Session messages other than heartbeats: kept until a session carried them (see #outbox). */
type ReportMessage = { epochReport: EpochReport } | { trialEnded: TrialEnded };

/** Reports written on a session that later broke are sent again; this many at most are kept. */
const MAX_REPLAY = 1000;
/** Deadline of one ReportMetrics call (a client stream of one batch). */
const METRICS_DEADLINE_MS = 10_000;

export interface WorkerAgentOptions {
  /** host:port of the coordinator. */
  coordinator: string;
  joinToken: string;
  capabilities: Capabilities;
  credentials?: grpc.ChannelCredentials;
  backoff?: BackoffOptions;
  log: Logger;
}

/** Errors that retrying cannot fix: the worker gives up instead of hammering the coordinator. */
const FATAL_CODES = new Set([grpc.status.UNAUTHENTICATED, grpc.status.PERMISSION_DENIED]);

export class FatalJoinError extends Error {
  readonly code: grpc.status;
  constructor(code: grpc.status, details: string, options?: { cause?: unknown }) {
    super(`coordinator refused this worker (${grpc.status[code]}): ${details}`, options);
    this.name = 'FatalJoinError';
    this.code = code;
  }
}

function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === 'number';
}

/**
 * Keeps one worker joined to the coordinator: Register, then a Session stream with heartbeats
 * every lease / HEARTBEATS_PER_LEASE; when the stream breaks (coordinator restart, network),
 * registers again after a jittered exponential backoff.
 *
 * Everything here runs on the main thread's event loop and does no heavy work, so heartbeats
 * keep their rhythm: training runs in a `worker_threads` Worker (trial/runner.ts) that reports
 * progress to this agent by message (see `setActivity`), never on this thread.
 *
 * Reports (EpochReport, TrialEnded) ride the Session stream; they are held while no session is
 * open and sent again after a reconnect when the session that carried them broke.
 */
export class WorkerAgent extends EventEmitter<WorkerAgentEvents> {
  readonly #options: WorkerAgentOptions;
  readonly #client: WorkerRegistryClient;
  readonly #log: Logger;
  readonly #backoff: BackoffOptions;
  #activity: WorkerActivity = {
    state: 'WORKER_STATE_IDLE',
    trialId: '',
    rank: 0,
    step: 0,
    stepTimeMs: 0,
  };
  #stopped = false;
  #call: grpc.ClientDuplexStream<WorkerMessage, CoordinatorMessage__Output> | null = null;
  #workerId = '';
  /** RegisterResponse.session_key: proves to the coordinator that a Session is ours. */
  #sessionKey = '';
  #wake: (() => void) | null = null;
  /** Reports waiting for a session. */
  #outbox: ReportMessage[] = [];
  /**
   * Reports written on the current session: a stream gives no receipt, so if it breaks they are
   * queued again (at least once; the coordinator drops duplicates).
   */
  #written: ReportMessage[] = [];

  constructor(options: WorkerAgentOptions) {
    super();
    this.#options = options;
    this.#log = options.log;
    this.#backoff = options.backoff ?? { initialMs: 200, maxMs: 5000 };
    const { WorkerRegistry } = loadProtocol().mmim.v1;
    this.#client = new WorkerRegistry(
      options.coordinator,
      options.credentials ?? grpc.credentials.createInsecure(),
      CLIENT_CHANNEL_OPTIONS,
    );
  }

  get activity(): Readonly<WorkerActivity> {
    return this.#activity;
  }

  /** Updates what the next heartbeats report (called by the training bridge). */
  setActivity(update: Partial<WorkerActivity>): void {
    this.#activity = { ...this.#activity, ...update };
  }

  /**
   * Runs until `stop()`; rejects with FatalJoinError when the coordinator refuses the token.
   * Transient failures (coordinator down, deadline exceeded, lost lease) are retried forever.
   */
  async run(): Promise<void> {
    let attempt = 0;
    while (!this.#stopped) {
      try {
        const registration = await this.#register();
        attempt = 0;
        this.emit('registered', registration);
        await this.#session(registration);
      } catch (err) {
        if (isServiceError(err) && FATAL_CODES.has(err.code)) {
          throw new FatalJoinError(err.code, err.details, { cause: err });
        }
        if (this.#stopped) break;
        this.#log.warn(
          { err, status: isServiceError(err) ? grpc.status[err.code] : null },
          'coordinator unreachable; will retry',
        );
      }
      if (this.#stopped) break;
      await this.#sleep(backoffDelay(attempt++, this.#backoff));
    }
  }

  /** The id of the current registration ('' before the first one). */
  get workerId(): string {
    return this.#workerId;
  }

  /** Reports of this worker waiting for the coordinator (sent at the next session). */
  get pendingReports(): number {
    return this.#outbox.length;
  }

  /** One finished epoch (rank 0), over the Session stream; buffered while disconnected. */
  sendEpochReport(report: EpochReport): void {
    this.#send({ epochReport: report });
  }

  /** The end of this worker's part of a trial, over the Session stream; buffered likewise. */
  sendTrialEnded(ended: TrialEnded): void {
    this.#send({ trialEnded: ended });
  }

  /**
   * Sends one batch of metric points on a ReportMetrics client stream and resolves with the
   * coordinator's count; rejects when the coordinator is unreachable (the caller keeps the
   * points and retries). `workerId` is filled in here.
   */
  reportMetrics(points: readonly MetricPoint[]): Promise<number> {
    if (points.length === 0) return Promise.resolve(0);
    if (this.#workerId === '') return Promise.reject(new Error('not registered yet'));
    const workerId = this.#workerId;
    return new Promise<number>((resolve, reject) => {
      const call = this.#client.ReportMetrics(
        this.#metadata(),
        { deadline: deadlineIn(METRICS_DEADLINE_MS) },
        (err: grpc.ServiceError | null, ack?: Ack__Output) =>
          err || !ack ? reject(err ?? new Error('empty Ack')) : resolve(Number(ack.received)),
      );
      for (const p of points) call.write({ ...p, workerId });
      call.end();
    });
  }

  #send(message: ReportMessage): void {
    this.#outbox.push(message);
    this.#flush();
  }

  /** Writes the outbox on the live session, if any. */
  #flush(): void {
    const call = this.#call;
    if (call === null || this.#workerId === '') return;
    for (const m of this.#outbox.splice(0)) {
      call.write({ workerId: this.#workerId, sessionKey: this.#sessionKey, ...m });
      this.#written.push(m);
    }
    if (this.#written.length > MAX_REPLAY)
      this.#written.splice(0, this.#written.length - MAX_REPLAY);
  }

  /** Ends the session and the retry loop; run() then resolves. */
  stop(): void {
    this.#stopped = true;
    this.#call?.cancel();
    this.#wake?.();
    this.#client.close();
  }

  #metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    md.set(JOIN_TOKEN_METADATA_KEY, this.#options.joinToken);
    return md;
  }

  #register(): Promise<RegisterResponse__Output> {
    return new Promise((resolve, reject) => {
      this.#client.Register(
        { capabilities: this.#options.capabilities },
        this.#metadata(),
        { deadline: deadlineIn(UNARY_DEADLINES_MS.register) },
        (err, res) =>
          err || !res ? reject(err ?? new Error('empty Register response')) : resolve(res),
      );
    });
  }

  /** Resolves when the stream ends for any reason but a fatal one. */
  #session(registration: RegisterResponse__Output): Promise<void> {
    const { workerId, leaseMs, sessionKey } = registration;
    const intervalMs = Math.max(10, Math.floor(leaseMs / HEARTBEATS_PER_LEASE));
    this.#log.info({ workerId, leaseMs, heartbeatMs: intervalMs }, 'registered');
    const call = this.#client.Session(this.#metadata());
    this.#call = call;
    this.#workerId = workerId;
    this.#sessionKey = sessionKey;
    const beat = (): void => {
      const a = this.#activity;
      call.write({
        workerId,
        sessionKey,
        heartbeat: {
          state: a.state,
          trialId: a.trialId,
          rank: a.rank,
          step: a.step,
          stepTimeMs: a.stepTimeMs,
          sentAtMs: Date.now(),
        },
      });
    };
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setInterval(beat, intervalMs);
      const settle = (err: grpc.ServiceError | null): void => {
        if (settled) return;
        settled = true;
        clearInterval(timer);
        this.#call = null;
        // Whatever this session carried may be lost with it: send it again on the next one.
        this.#outbox = [...this.#written, ...this.#outbox];
        this.#written = [];
        if (err && FATAL_CODES.has(err.code)) reject(err);
        else {
          if (!this.#stopped) {
            this.#log.warn(
              { workerId, code: err ? grpc.status[err.code] : 'OK', details: err?.details },
              'session ended',
            );
          }
          resolve();
        }
      };
      call.on('data', (message: CoordinatorMessage__Output) => this.#onCommand(message, beat));
      call.on('error', (err: grpc.ServiceError) => settle(err));
      // A clean end from the server (it never does that today) is handled like a break.
      call.on('end', () => settle(null));
      beat(); // binds the stream to this worker at once
      this.#flush(); // reports held while the coordinator was unreachable
    });
  }

  #onCommand(message: CoordinatorMessage__Output, beat: () => void): void {
    switch (message.kind) {
      case 'assignTrial': {
        const a = message.assignTrial;
        if (!a) return;
        this.#log.info(
          { trialId: a.trialId, rank: a.rank, worldSize: a.worldSize },
          'trial assigned',
        );
        this.emit('assign', a); // the runner sets TRAINING (or refuses it) synchronously
        beat(); // tell the coordinator at once that the assignment arrived
        return;
      }
      case 'stop': {
        const s = message.stop;
        if (!s) return;
        this.#log.info({ trialId: s.trialId, reason: s.reason }, 'trial stop requested');
        this.emit('stop', s); // the runner ends the thread and reports IDLE
        beat();
        return;
      }
      case 'ping':
        beat();
        return;
      default:
        this.#log.warn({ kind: message.kind }, 'unknown command ignored');
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    }).then(() => {
      this.#wake = null;
    });
  }
}
