/**
 * One simulated worker: its own gRPC channel (own TCP connection), Register, a Session stream
 * heartbeating every lease/3, and a ReportMetrics stream sending `metricsPerSecond` points. It
 * records Register latency, heartbeat round trips (answered by the bench coordinator's echo, see
 * coordinator-process.ts) and health Check latency.
 */
import * as grpc from '@grpc/grpc-js';
import {
  CLIENT_CHANNEL_OPTIONS,
  HEARTBEATS_PER_LEASE,
  JOIN_TOKEN_METADATA_KEY,
  loadProtocol,
  type CoordinatorMessage__Output,
  type MetricPoint,
  type WorkerMessage,
  type WorkerRegistryClient,
} from '@mmim/protocol';

export interface SimOptions {
  address: string;
  token: string;
  name: string;
  metricsPerSecond: number;
  /** Health Check period; 0 = none. */
  healthEveryMs: number;
}

export interface SimSamples {
  registerMs: number[];
  heartbeatRttMs: number[];
  healthMs: number[];
  heartbeatsSent: number;
  metricsSent: number;
  errors: string[];
}

/** Metric points go out in small batches this often (20/s -> 2 points every 100 ms). */
const METRIC_TICK_MS = 100;

export class SimWorker {
  readonly samples: SimSamples = {
    registerMs: [],
    heartbeatRttMs: [],
    healthMs: [],
    heartbeatsSent: 0,
    metricsSent: 0,
    errors: [],
  };
  /** Samples only count while true (the steady window, after every worker is up). */
  recording = false;
  readonly #client: WorkerRegistryClient;
  readonly #raw: grpc.Client;
  readonly #opts: SimOptions;
  readonly #sent = new Map<number, number>();
  readonly #timers: NodeJS.Timeout[] = [];
  #session: grpc.ClientDuplexStream<WorkerMessage, CoordinatorMessage__Output> | null = null;
  #metrics: grpc.ClientWritableStream<MetricPoint> | null = null;
  #seq = 0;
  #workerId = '';

  constructor(opts: SimOptions) {
    this.#opts = opts;
    // A private subchannel pool: each simulated worker gets its own connection, as real ones do.
    const options = { ...CLIENT_CHANNEL_OPTIONS, 'grpc.use_local_subchannel_pool': 1 };
    const { WorkerRegistry } = loadProtocol().mmim.v1;
    this.#client = new WorkerRegistry(opts.address, grpc.credentials.createInsecure(), options);
    // Health checks share the worker's channel (a grpc.Client built on the same Channel).
    this.#raw = new grpc.Client(opts.address, grpc.credentials.createInsecure(), {
      channelOverride: this.#client.getChannel(),
    });
  }

  #md(): grpc.Metadata {
    const md = new grpc.Metadata();
    md.set(JOIN_TOKEN_METADATA_KEY, this.#opts.token);
    return md;
  }

  #error(what: string, err: unknown): void {
    if (this.samples.errors.length < 20)
      this.samples.errors.push(
        `${this.#opts.name} ${what}: ${(err as Error).message ?? String(err)}`,
      );
  }

  /** Registers, opens both streams and starts the timers; resolves once registered. */
  async start(): Promise<void> {
    const t0 = performance.now();
    const res = await new Promise<{ workerId: string; leaseMs: number; sessionKey: string }>(
      (resolve, reject) =>
        this.#client.Register(
          {
            capabilities: {
              backend: 'cpu',
              device: 'simulated',
              workerName: this.#opts.name,
              version: 'load',
            },
          },
          this.#md(),
          { deadline: new Date(Date.now() + 30_000) },
          (err, r) => (err || !r ? reject(err ?? new Error('no response')) : resolve(r)),
        ),
    );
    this.samples.registerMs.push(performance.now() - t0);
    this.#workerId = res.workerId;

    const session = this.#client.Session(this.#md());
    this.#session = session;
    session.on('data', (m: CoordinatorMessage__Output) => {
      if (!m.ping) return;
      const seq = Number(m.ping.sentAtMs);
      const sentAt = this.#sent.get(seq);
      if (sentAt === undefined) return;
      this.#sent.delete(seq);
      if (this.recording) this.samples.heartbeatRttMs.push(performance.now() - sentAt);
    });
    session.on('error', (err: grpc.ServiceError) => {
      if (err.code !== grpc.status.CANCELLED) this.#error('session', err);
    });
    const beat = (): void => {
      const seq = ++this.#seq;
      this.#sent.set(seq, performance.now());
      session.write({
        workerId: this.#workerId,
        sessionKey: res.sessionKey,
        heartbeat: { state: 'WORKER_STATE_IDLE', step: seq, sentAtMs: Date.now() },
      });
      this.samples.heartbeatsSent += 1;
    };
    beat();
    // Workers start staggered (main.ts ramps them up), so their beats do not fall in lock-step.
    const period = res.leaseMs / HEARTBEATS_PER_LEASE;
    this.#timers.push(setInterval(beat, period));

    const metrics = this.#client.ReportMetrics(this.#md(), (err) => {
      if (err && err.code !== grpc.status.CANCELLED) this.#error('metrics', err);
    });
    this.#metrics = metrics;
    let carry = 0;
    this.#timers.push(
      setInterval(() => {
        carry += (this.#opts.metricsPerSecond * METRIC_TICK_MS) / 1000;
        for (; carry >= 1; carry -= 1) {
          metrics.write({
            workerId: this.#workerId,
            trialId: 'load',
            name: 'train/loss',
            value: Math.random(),
            step: this.samples.metricsSent,
            timestampMs: Date.now(),
          });
          this.samples.metricsSent += 1;
        }
      }, METRIC_TICK_MS),
    );

    if (this.#opts.healthEveryMs > 0) {
      this.#timers.push(setInterval(() => void this.#health(), this.#opts.healthEveryMs));
    }
  }

  async #health(): Promise<void> {
    const t0 = performance.now();
    await new Promise<void>((resolve) =>
      this.#raw.makeUnaryRequest(
        '/grpc.health.v1.Health/Check',
        (x: Buffer) => x,
        (x: Buffer) => x,
        Buffer.alloc(0),
        new grpc.Metadata(),
        { deadline: new Date(Date.now() + 10_000) },
        (err) => {
          if (err) this.#error('health', err);
          else if (this.recording) this.samples.healthMs.push(performance.now() - t0);
          resolve();
        },
      ),
    );
  }

  /** Stops the timers, ends both streams and closes the channel; safe to call twice. */
  stop(): void {
    for (const t of this.#timers.splice(0)) clearInterval(t);
    this.#metrics?.end();
    this.#metrics = null;
    this.#session?.end();
    this.#session = null;
    setTimeout(() => this.#client.close(), 500).unref();
  }
}
