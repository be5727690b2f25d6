import { EventEmitter } from 'node:events';
import {
  status,
  type Server,
  type ServerDuplexStream,
  type ServerErrorResponse,
  type ServerReadableStream,
} from '@grpc/grpc-js';
import {
  loadProtocol,
  type Ack,
  type CoordinatorMessage,
  type EpochReport__Output,
  type TrialEnded__Output,
  type MetricPoint__Output,
  type RegisterRequest__Output,
  type RegisterResponse,
  type WorkerMessage__Output,
  type WorkerRegistryHandlers,
} from '@mmim/protocol';
import type { Logger } from '@mmim/runtime';
import type { JoinTokenAuth } from './auth.js';
import type { SessionHandle, WorkerPool, WorkerRecord } from './pool.js';

export interface RegistryServiceEvents {
  metric: [MetricPoint__Output];
  /** From an authenticated, attached worker; the trial layer checks it may speak for the trial. */
  epochReport: [WorkerRecord, EpochReport__Output];
  trialEnded: [WorkerRecord, TrialEnded__Output];
}

function grpcError(code: status, details: string): ServerErrorResponse {
  return { name: status[code], message: details, code, details };
}

/**
 * mmim.v1.WorkerRegistry: admits workers (after the join-token check), keeps their Session
 * streams bound to the pool and relays metrics. Nothing an unauthenticated call sends is read.
 */
export class WorkerRegistryService extends EventEmitter<RegistryServiceEvents> {
  readonly #pool: WorkerPool;
  readonly #auth: JoinTokenAuth;
  readonly #log: Logger;

  constructor(pool: WorkerPool, auth: JoinTokenAuth, log: Logger) {
    super();
    this.#pool = pool;
    this.#auth = auth;
    this.#log = log;
  }

  addToServer(server: Server): void {
    const handlers: WorkerRegistryHandlers = {
      Register: (call, callback) => {
        const denied = this.#authenticate(call.metadata, call.getPeer(), 'Register');
        if (denied) {
          callback(denied);
          return;
        }
        const result = this.#register(call.request);
        if ('error' in result) callback(result.error);
        else callback(null, result.response);
      },
      Session: (call) => this.#session(call),
      ReportMetrics: (call, callback) => {
        const denied = this.#authenticate(call.metadata, call.getPeer(), 'ReportMetrics');
        if (denied) {
          callback(denied);
          return;
        }
        this.#reportMetrics(call, callback);
      },
    };
    server.addService(loadProtocol().mmim.v1.WorkerRegistry.service, handlers);
  }

  #authenticate(
    metadata: ServerDuplexStream<unknown, unknown>['metadata'],
    peer: string,
    method: string,
  ): ServerErrorResponse | null {
    const denied = this.#auth.check(metadata);
    if (denied) this.#log.warn({ peer, method, reason: denied.details }, 'call refused');
    return denied;
  }

  #register(
    request: RegisterRequest__Output,
  ): { error: ServerErrorResponse } | { response: RegisterResponse } {
    const caps = request.capabilities;
    if (!caps || caps.workerName.trim() === '' || caps.backend.trim() === '') {
      return {
        error: grpcError(
          status.INVALID_ARGUMENT,
          'capabilities.worker_name and .backend are required',
        ),
      };
    }
    const worker = this.#pool.register(caps);
    this.#log.info(
      {
        workerId: worker.id,
        workerName: caps.workerName,
        backend: caps.backend,
        device: caps.device,
        // webgpu workers: which GPU, how Dawn reaches it, and whether it is a CPU rasteriser.
        adapter: caps.adapter
          ? {
              device: caps.adapter.device,
              route: caps.adapter.route,
              software: caps.adapter.software,
            }
          : undefined,
        memoryBytes: caps.memoryBytes,
        version: caps.version,
      },
      'worker registered',
    );
    return {
      response: { workerId: worker.id, leaseMs: this.#pool.leaseMs, sessionKey: worker.sessionKey },
    };
  }

  #session(call: ServerDuplexStream<WorkerMessage__Output, CoordinatorMessage>): void {
    const denied = this.#authenticate(call.metadata, call.getPeer(), 'Session');
    if (denied) {
      call.emit('error', denied);
      return;
    }
    let workerId: string | null = null;
    let finished = false;
    const session: SessionHandle = {
      send: (message) => {
        if (!finished) call.write(message);
      },
    };
    // Runs once, whichever of end / cancelled / error / our own failure comes first.
    const finish = (reason: string): void => {
      if (finished) return;
      finished = true;
      if (workerId !== null) {
        this.#pool.detach(workerId, session);
        this.#log.info({ workerId, reason }, 'session closed');
      }
    };
    const fail = (code: status, details: string): void => {
      if (finished) return;
      finish(details);
      call.emit('error', grpcError(code, details));
    };

    call.on('data', (message: WorkerMessage__Output) => {
      if (finished) return;
      if (message.workerId === '') {
        fail(status.INVALID_ARGUMENT, 'worker_id is required on every message');
        return;
      }
      if (workerId === null) {
        const attached = this.#pool.attach(message.workerId, session, message.sessionKey);
        if (attached === 'denied') {
          this.#log.warn(
            { workerId: message.workerId, peer: call.getPeer() },
            'session refused: wrong session key for this worker id',
          );
          fail(
            status.PERMISSION_DENIED,
            `worker ${message.workerId} belongs to the client that registered it (session key does not match)`,
          );
          return;
        }
        if (!attached) {
          fail(status.NOT_FOUND, `unknown or lost worker ${message.workerId}: register again`);
          return;
        }
        workerId = message.workerId;
        this.#log.info({ workerId }, 'session opened');
      } else if (message.workerId !== workerId) {
        fail(status.INVALID_ARGUMENT, `this session belongs to worker ${workerId}`);
        return;
      }
      if (message.epochReport || message.trialEnded) {
        const worker = this.#pool.get(workerId);
        if (!worker) return;
        if (message.epochReport) this.emit('epochReport', worker, message.epochReport);
        if (message.trialEnded) this.emit('trialEnded', worker, message.trialEnded);
        return;
      }
      const hb = message.heartbeat;
      if (!hb) return;
      const renewed = this.#pool.heartbeat(workerId, hb, session);
      if (renewed === 'stale') {
        // A newer stream of this worker took over: this one speaks for nobody any more.
        fail(status.ABORTED, `a newer session of worker ${workerId} is open`);
        return;
      }
      if (!renewed) {
        fail(status.NOT_FOUND, `worker ${workerId} was marked lost: register again`);
        return;
      }
      this.#log.trace(
        { workerId, state: hb.state, trialId: hb.trialId, step: hb.step },
        'heartbeat',
      );
    });
    call.on('end', () => {
      // After fail() the status is already on its way; ending again would be a second answer.
      if (finished) return;
      finish('worker ended the stream');
      call.end();
    });
    call.on('cancelled', () => finish('cancelled'));
    call.on('error', (err: Error) => finish(`stream error: ${err.message}`));
  }

  #reportMetrics(
    call: ServerReadableStream<MetricPoint__Output, Ack>,
    callback: (error: ServerErrorResponse | null, value?: Ack) => void,
  ): void {
    let received = 0;
    let done = false;
    call.on('data', (point: MetricPoint__Output) => {
      if (done) return;
      received += 1;
      this.emit('metric', point);
    });
    call.on('end', () => {
      if (done) return;
      done = true;
      callback(null, { received });
    });
    // The client went away: no answer can reach it, so none is sent.
    call.on('cancelled', () => {
      done = true;
    });
  }
}
