/**
 * A minimal WorkerRegistry server for the worker's tests (the real coordinator has its own
 * tests): admits workers with the join token, records every heartbeat with its arrival time,
 * every EpochReport / TrialEnded and every metric point, and sends AssignTrial / Stop to a
 * worker by name.
 */
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import {
  JOIN_TOKEN_METADATA_KEY,
  SERVER_CHANNEL_OPTIONS,
  loadProtocol,
  type AssignTrial,
  type CoordinatorMessage,
  type EpochReport__Output,
  type Heartbeat__Output,
  type MetricPoint__Output,
  type TrialEnded__Output,
  type WorkerMessage__Output,
  type WorkerRegistryHandlers,
} from '@mmim/protocol';

export interface SeenWorker {
  id: string;
  name: string;
  session: grpc.ServerDuplexStream<WorkerMessage__Output, CoordinatorMessage> | null;
  heartbeats: { at: number; beat: Heartbeat__Output }[];
}

export class FakeCoordinator extends EventEmitter<{ change: [] }> {
  readonly workers = new Map<string, SeenWorker>();
  readonly epochReports: { workerId: string; report: EpochReport__Output }[] = [];
  readonly trialEnded: { workerId: string; ended: TrialEnded__Output }[] = [];
  readonly points: MetricPoint__Output[] = [];
  #server = new grpc.Server(SERVER_CHANNEL_OPTIONS);
  #next = 0;
  port = 0;

  constructor(
    readonly token: string,
    readonly leaseMs: number,
  ) {
    super();
  }

  /** Listens on `port` (default: a free one). */
  async start(port = 0): Promise<void> {
    const authorised = (md: grpc.Metadata): boolean =>
      md.get(JOIN_TOKEN_METADATA_KEY)[0] === this.token;
    const denied = { code: grpc.status.UNAUTHENTICATED, details: 'bad join token' };
    const handlers: WorkerRegistryHandlers = {
      Register: (call, callback) => {
        if (!authorised(call.metadata)) return callback(denied);
        const id = `w${++this.#next}`;
        const name = call.request.capabilities?.workerName ?? '';
        this.workers.set(id, { id, name, session: null, heartbeats: [] });
        callback(null, { workerId: id, leaseMs: this.leaseMs });
        this.emit('change');
      },
      Session: (call) => {
        if (!authorised(call.metadata)) return call.emit('error', denied);
        call.on('data', (m: WorkerMessage__Output) => {
          const w = this.workers.get(m.workerId);
          if (w === undefined) return;
          w.session = call;
          if (m.heartbeat) w.heartbeats.push({ at: Date.now(), beat: m.heartbeat });
          if (m.epochReport) this.epochReports.push({ workerId: w.id, report: m.epochReport });
          if (m.trialEnded) this.trialEnded.push({ workerId: w.id, ended: m.trialEnded });
          this.emit('change');
        });
        call.on('error', () => undefined);
        call.on('end', () => call.end());
      },
      ReportMetrics: (call, callback) => {
        if (!authorised(call.metadata)) return callback(denied);
        let n = 0;
        call.on('data', (p: MetricPoint__Output) => {
          this.points.push(p);
          n++;
        });
        call.on('end', () => {
          callback(null, { received: n });
          this.emit('change');
        });
      },
    };
    this.#server.addService(loadProtocol().mmim.v1.WorkerRegistry.service, handlers);
    this.port = await new Promise<number>((resolve, reject) =>
      this.#server.bindAsync(
        `127.0.0.1:${port}`,
        grpc.ServerCredentials.createInsecure(),
        (err, p) => (err ? reject(err) : resolve(p)),
      ),
    );
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The newest registration of the worker named `name`. */
  byName(name: string): SeenWorker | undefined {
    return [...this.workers.values()].filter((w) => w.name === name).at(-1);
  }

  send(name: string, message: CoordinatorMessage): void {
    const w = this.byName(name);
    if (w?.session == null) throw new Error(`worker ${name} has no session`);
    w.session.write(message);
  }

  assign(name: string, a: AssignTrial): void {
    this.send(name, { assignTrial: a });
  }

  /** Resolves with `probe()`'s first non-undefined value, checked on every change. */
  waitFor<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = (): void => {
        const v = probe();
        if (v === undefined) return;
        cleanup();
        resolve(v);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('change', check);
      };
      this.on('change', check);
      check();
    });
  }

  ended(trialId: string, rank: number): TrialEnded__Output | undefined {
    return this.trialEnded.find((e) => e.ended.trialId === trialId && e.ended.rank === rank)?.ended;
  }

  async close(): Promise<void> {
    this.#server.forceShutdown();
  }
}
