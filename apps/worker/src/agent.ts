import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import {
  CLIENT_CHANNEL_OPTIONS,
  deadlineIn,
  HEARTBEATS_PER_LEASE,
  JOIN_TOKEN_METADATA_KEY,
  loadProtocol,
  UNARY_DEADLINES_MS,
  type AssignTrial__Output,
  type Capabilities,
  type CoordinatorMessage__Output,
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
  /** The next session hooks the trainer here (it runs in a worker_threads Worker). */
  assign: [AssignTrial__Output];
  stop: [Stop__Output];
}

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
 * keep their rhythm: training will run in a `worker_threads` Worker that reports progress to
 * this agent by message (see `setActivity`), never on this thread.
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
  #wake: (() => void) | null = null;

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
          { err: isServiceError(err) ? `${grpc.status[err.code]}: ${err.details}` : String(err) },
          'coordinator unreachable; will retry',
        );
      }
      if (this.#stopped) break;
      await this.#sleep(backoffDelay(attempt++, this.#backoff));
    }
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
    const { workerId, leaseMs } = registration;
    const intervalMs = Math.max(10, Math.floor(leaseMs / HEARTBEATS_PER_LEASE));
    this.#log.info({ workerId, leaseMs, heartbeatMs: intervalMs }, 'registered');
    const call = this.#client.Session(this.#metadata());
    this.#call = call;
    const beat = (): void => {
      const a = this.#activity;
      call.write({
        workerId,
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
        this.setActivity({
          state: 'WORKER_STATE_TRAINING',
          trialId: a.trialId,
          rank: a.rank,
          step: 0,
          stepTimeMs: 0,
        });
        this.emit('assign', a);
        beat(); // tell the coordinator at once that the assignment arrived
        return;
      }
      case 'stop': {
        const s = message.stop;
        if (!s) return;
        this.#log.info({ trialId: s.trialId, reason: s.reason }, 'trial stop requested');
        this.emit('stop', s);
        // Without a trainer there is nothing to wind down; the trainer bridge will report
        // STOPPING while its thread winds down, then IDLE.
        if (this.#activity.trialId === s.trialId) {
          this.setActivity({
            state: 'WORKER_STATE_IDLE',
            trialId: '',
            rank: 0,
            step: 0,
            stepTimeMs: 0,
          });
        }
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
