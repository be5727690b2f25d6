/**
 * The coordinator's Prometheus metrics (served at /metrics). The coordinator feeds the gauges
 * from its registry and queue, the step histogram from heartbeats and the parameter-server
 * figures from the workers' `ps/bytes` and `ps/seconds` metric points; the HTTP server times
 * its own requests. One Registry per instance, so tests and several coordinators in one
 * process never collide on prom-client's global registry.
 */
import type { TrialState } from '@mmim/experiments';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type WorkerState = 'idle' | 'training' | 'stopping' | 'lost';

const WORKER_STATES: readonly WorkerState[] = ['idle', 'training', 'stopping', 'lost'];
const TRIAL_STATES: readonly TrialState[] = [
  'queued',
  'running',
  'completed',
  'pruned',
  'failed',
  'cancelled',
];

export const METRIC_NAMES = [
  'mmim_workers',
  'mmim_trials',
  'mmim_queue_depth',
  'mmim_step_seconds',
  'mmim_param_server_bytes_total',
  'mmim_param_server_seconds',
  'mmim_http_request_seconds',
] as const;

export class CoordinatorMetrics {
  readonly registry = new Registry();
  private readonly workers: Gauge<'state'>;
  private readonly trials: Gauge<'state'>;
  private readonly queueDepth: Gauge;
  private readonly stepSeconds: Histogram;
  private readonly psBytes: Counter;
  private readonly psSeconds: Histogram;
  private readonly httpSeconds: Histogram<'route' | 'status'>;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.workers = new Gauge({
      name: 'mmim_workers',
      help: 'Registered workers by state',
      labelNames: ['state'],
      registers,
    });
    this.trials = new Gauge({
      name: 'mmim_trials',
      help: 'Trials by state',
      labelNames: ['state'],
      registers,
    });
    this.queueDepth = new Gauge({
      name: 'mmim_queue_depth',
      help: 'Trials waiting in the queue',
      registers,
    });
    this.stepSeconds = new Histogram({
      name: 'mmim_step_seconds',
      help: 'Training step time reported in worker heartbeats',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.psBytes = new Counter({
      name: 'mmim_param_server_bytes_total',
      help: 'Bytes the workers moved through the Redis parameter server',
      registers,
    });
    this.psSeconds = new Histogram({
      name: 'mmim_param_server_seconds',
      help: 'Time the workers spent in parameter-server exchanges, per step',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.httpSeconds = new Histogram({
      name: 'mmim_http_request_seconds',
      help: 'Dashboard HTTP request time by route and status',
      labelNames: ['route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
  }

  /** Every known state is set (absent ones to 0), so a state that empties drops to 0. */
  setWorkerCounts(counts: Partial<Record<WorkerState, number>>): void {
    for (const s of WORKER_STATES) this.workers.set({ state: s }, counts[s] ?? 0);
  }

  setTrialCounts(counts: Partial<Record<TrialState, number>>): void {
    for (const s of TRIAL_STATES) this.trials.set({ state: s }, counts[s] ?? 0);
  }

  setQueueDepth(n: number): void {
    this.queueDepth.set(n);
  }

  observeStepSeconds(seconds: number): void {
    if (Number.isFinite(seconds) && seconds >= 0) this.stepSeconds.observe(seconds);
  }

  addParamServerBytes(bytes: number): void {
    if (Number.isFinite(bytes) && bytes > 0) this.psBytes.inc(bytes);
  }

  observeParamServerSeconds(seconds: number): void {
    if (Number.isFinite(seconds) && seconds >= 0) this.psSeconds.observe(seconds);
  }

  observeHttpRequest(route: string, status: number, seconds: number): void {
    this.httpSeconds.observe({ route, status: String(status) }, seconds);
  }

  /** The Prometheus text exposition and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
