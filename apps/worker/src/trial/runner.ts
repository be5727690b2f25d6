/**
 * Runs the trials the coordinator assigns to this worker, one at a time, each in its own
 * `worker_threads` Worker (thread.ts), and relays what the thread says: activity for the
 * heartbeats, curve points on ReportMetrics (batched, rank 0 only), EpochReport (rank 0) and
 * TrialEnded (every rank) on the Session stream. The agent buffers reports while the
 * coordinator is unreachable, so nothing here waits on the network.
 */
import { Worker } from 'node:worker_threads';
import {
  TrialOutcome,
  type AssignTrial__Output,
  type MetricPoint,
  type Stop__Output,
} from '@mmim/protocol';
import { prepareGpuEnvironment, type BackendChoice, type Logger } from '@mmim/runtime';
import type { WorkerAgent } from '../agent.js';
import type { StartTrial, ThreadBoot, ThreadInit, ThreadMessage } from './messages.js';

export interface TrialRunnerOptions {
  redisUrl: string | null;
  /** Redis for the per-step exchanges (default: redisUrl). */
  exchangeRedisUrl?: string | null;
  runDir: string;
  backend: BackendChoice;
  log: Logger;
  /** How often buffered curve points are sent (default 500 ms). */
  metricsIntervalMs?: number;
  /** How long a rank waits for a silent peer (default 120 s). */
  collectiveTimeoutMs?: number;
  /**
   * Load the next trial's thread while a trial runs, so the next one starts at once (default
   * false). Meant for the wasm and cpu backends: a native TensorFlow backend would be brought
   * up a second time in the process (GPU memory), so there the next thread loads after the end.
   */
  preloadWhileBusy?: boolean;
}

/** Curve points kept while the coordinator is unreachable; older ones are dropped beyond. */
const MAX_BUFFERED_POINTS = 100_000;

interface Running {
  trialId: string;
  rank: number;
  worldSize: number;
  thread: Worker;
  /** Set once TrialEnded was sent (the thread's end, a stop, or a crash): sent only once. */
  ended: boolean;
  /** Why the thread is being terminated (Stop, shutdown); its exit then means STOPPED. */
  stopReason: string | null;
  epoch: number;
}

export class TrialRunner {
  readonly #agent: WorkerAgent;
  readonly #opts: TrialRunnerOptions;
  readonly #log: Logger;
  #current: Running | null = null;
  #points: MetricPoint[] = [];
  #sending = false;
  readonly #timer: NodeJS.Timeout;
  #idle: (() => void)[] = [];
  /**
   * A thread that has loaded the code and the backend, waiting for the next trial; `detach`
   * removes its spare-time listeners when a trial takes it.
   */
  #spare: { thread: Worker; detach: () => void } | null = null;
  #closed = false;

  constructor(agent: WorkerAgent, opts: TrialRunnerOptions) {
    this.#agent = agent;
    this.#opts = opts;
    this.#log = opts.log;
    agent.on('assign', (a) => this.#assign(a));
    agent.on('stop', (s) => void this.#stop(s));
    this.#timer = setInterval(() => void this.#sendPoints(), opts.metricsIntervalMs ?? 500);
    this.#timer.unref();
    this.#spawnSpare();
  }

  /** Starts the next trial's thread now, so an assignment does not wait for it to load. */
  #spawnSpare(): void {
    if (this.#closed || this.#spare !== null) return;
    const thread = startThread({ backend: this.#opts.backend });
    const started = performance.now();
    const onMessage = (m: ThreadMessage): void => {
      if (m.type === 'ready')
        this.#log.info({ ms: Math.round(performance.now() - started) }, 'trial thread ready');
    };
    // A spare that dies before its trial is simply dropped; the next assignment starts another.
    const onGone = (): void => {
      if (this.#spare?.thread === thread) this.#spare = null;
    };
    thread.on('message', onMessage);
    thread.once('error', onGone);
    thread.once('exit', onGone);
    const detach = (): void => {
      thread.off('message', onMessage);
      thread.off('error', onGone);
      thread.off('exit', onGone);
    };
    this.#spare = { thread, detach };
  }

  /** The spare thread with its spare-time listeners removed, or a new thread. */
  #takeThread(): Worker {
    const spare = this.#spare;
    this.#spare = null;
    if (spare === null) return startThread({ backend: this.#opts.backend });
    spare.detach();
    return spare.thread;
  }

  /** The trial running now, if any. */
  get current(): { trialId: string; rank: number } | null {
    return this.#current === null
      ? null
      : { trialId: this.#current.trialId, rank: this.#current.rank };
  }

  /** Resolves when no trial runs. */
  whenIdle(): Promise<void> {
    if (this.#current === null) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Ends the running trial's thread (worker shutdown) and stops sending points. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    const spare = this.#spare;
    this.#spare = null;
    await spare?.thread.terminate();
    const c = this.#current;
    if (c !== null) await this.#terminate(c, 'worker shutting down');
    await this.#sendPoints();
  }

  #assign(a: AssignTrial__Output): void {
    const busy = this.#current;
    if (busy !== null) {
      this.#log.warn(
        { trialId: a.trialId, busyWith: busy.trialId },
        'assignment refused: busy with another trial',
      );
      this.#agent.sendTrialEnded({
        trialId: a.trialId,
        rank: a.rank,
        outcome: TrialOutcome.TRIAL_OUTCOME_FAILED,
        error: `worker busy with trial ${busy.trialId}`,
      });
      return;
    }
    const init: ThreadInit = {
      configJson: a.configJson,
      trialId: a.trialId,
      rank: a.rank,
      worldSize: a.worldSize,
      redisUrl: this.#opts.redisUrl,
      exchangeRedisUrl: this.#opts.exchangeRedisUrl ?? null,
      runDir: this.#opts.runDir,
      collectiveTimeoutMs: this.#opts.collectiveTimeoutMs ?? 120_000,
    };
    const thread = this.#takeThread();
    if (this.#opts.preloadWhileBusy === true) this.#spawnSpare();
    const running: Running = {
      trialId: a.trialId,
      rank: a.rank,
      worldSize: a.worldSize,
      thread,
      ended: false,
      stopReason: null,
      epoch: 0,
    };
    this.#current = running;
    this.#agent.setActivity({
      state: 'WORKER_STATE_TRAINING',
      trialId: a.trialId,
      rank: a.rank,
      step: 0,
      stepTimeMs: 0,
    });
    thread.on('message', (m: ThreadMessage) => this.#onMessage(running, m));
    thread.on('error', (err) => {
      this.#log.error({ trialId: a.trialId, err }, 'trial thread crashed');
      this.#end(
        running,
        TrialOutcome.TRIAL_OUTCOME_FAILED,
        `trial thread crashed: ${err.message}`,
        '',
      );
    });
    thread.on('exit', (code) => {
      if (running.stopReason !== null)
        this.#end(running, TrialOutcome.TRIAL_OUTCOME_STOPPED, running.stopReason, '');
      // An exit without an `end` message (out of memory, process.exit in a library).
      else
        this.#end(
          running,
          TrialOutcome.TRIAL_OUTCOME_FAILED,
          `trial thread exited with code ${code} before reporting an end`,
          '',
        );
    });
    const start: StartTrial = { type: 'start', init };
    thread.postMessage(start);
  }

  #onMessage(r: Running, m: ThreadMessage): void {
    if (r.ended) return;
    switch (m.type) {
      case 'step': {
        r.epoch = m.epoch;
        this.#agent.setActivity({ step: m.step, stepTimeMs: m.stepTimeMs });
        if (r.rank !== 0) return;
        const now = Date.now();
        const base = { trialId: r.trialId, rank: r.rank, step: m.step, epoch: m.epoch };
        for (const p of m.points)
          this.#points.push({ ...base, name: p.name, value: p.value, timestampMs: now });
        this.#points.push({
          ...base,
          name: 'train/samples_per_s',
          value: m.samplesPerSecond,
          timestampMs: now,
        });
        if (this.#points.length > MAX_BUFFERED_POINTS)
          this.#points.splice(0, this.#points.length - MAX_BUFFERED_POINTS);
        return;
      }
      case 'epoch':
        this.#log.info(
          { trialId: r.trialId, rank: r.rank, epoch: m.record.epoch, validMae: m.record.valid.mae },
          'epoch done',
        );
        if (r.rank === 0) {
          this.#agent.sendEpochReport({
            trialId: r.trialId,
            rank: r.rank,
            epoch: m.record.epoch,
            recordJson: JSON.stringify(m.record),
          });
        }
        return;
      case 'checkpoint':
        this.#log.info({ trialId: r.trialId, ...m }, 'checkpoint stored');
        return;
      case 'ready':
        return;
      case 'note':
        this.#log.info(
          { trialId: r.trialId, rank: r.rank, epoch: m.epoch, step: m.step, source: m.source },
          'trial resumed',
        );
        return;
      case 'end':
        if (m.outcome === 'FAILED')
          this.#log.error(
            { trialId: r.trialId, rank: r.rank, err: { message: m.error, stack: m.stack } },
            'trial failed',
          );
        else this.#log.info({ trialId: r.trialId, rank: r.rank }, 'trial completed');
        this.#end(
          r,
          m.outcome === 'COMPLETED'
            ? TrialOutcome.TRIAL_OUTCOME_COMPLETED
            : TrialOutcome.TRIAL_OUTCOME_FAILED,
          m.error,
          r.rank === 0 && m.result !== null ? JSON.stringify(m.result) : '',
        );
        // The thread has nothing left to do; its TF.js backend may keep it alive otherwise.
        void r.thread.terminate();
        return;
    }
  }

  async #stop(s: Stop__Output): Promise<void> {
    const r = this.#current;
    if (r === null || r.trialId !== s.trialId) return;
    await this.#terminate(r, s.reason || 'stopped by the coordinator');
  }

  /** STOPPING while the thread is terminated; its exit sends TrialEnded STOPPED, then IDLE. */
  async #terminate(r: Running, reason: string): Promise<void> {
    r.stopReason = reason;
    this.#agent.setActivity({ state: 'WORKER_STATE_STOPPING' });
    await r.thread.terminate();
    // 'exit' has normally ended it already; this covers a thread that was gone before.
    this.#end(r, TrialOutcome.TRIAL_OUTCOME_STOPPED, reason, '');
  }

  /**
   * Sends TrialEnded once per trial and frees the worker at once: the coordinator may assign
   * the next trial as soon as it reads TrialEnded, while the old thread is still terminating.
   */
  #end(r: Running, outcome: TrialOutcome, error: string, resultJson: string): void {
    if (r.ended) return;
    r.ended = true;
    void this.#sendPoints(); // the curve's tail before the end
    this.#agent.sendTrialEnded({ trialId: r.trialId, rank: r.rank, outcome, error, resultJson });
    this.#release(r);
  }

  /** The trial is over: the worker is idle again. */
  #release(r: Running): void {
    if (this.#current !== r) return;
    this.#current = null;
    this.#agent.setActivity({
      state: 'WORKER_STATE_IDLE',
      trialId: '',
      rank: 0,
      step: 0,
      stepTimeMs: 0,
    });
    for (const f of this.#idle.splice(0)) f();
    this.#spawnSpare();
  }

  async #sendPoints(): Promise<void> {
    if (this.#sending || this.#points.length === 0) return;
    this.#sending = true;
    const batch = this.#points.splice(0);
    try {
      await this.#agent.reportMetrics(batch);
    } catch (err) {
      // Unreachable coordinator: keep them (in order) for the next try.
      this.#points = [...batch, ...this.#points].slice(-MAX_BUFFERED_POINTS);
      this.#log.debug({ points: batch.length, err }, 'metric points held');
    } finally {
      this.#sending = false;
    }
  }
}

/**
 * Starts thread.ts. Under tsx (this file is .ts) the thread's entry must be loaded through tsx's
 * ESM hooks: Node 20 resolves a Worker's .ts entry before the inherited `--import tsx` applies
 * (ERR_UNKNOWN_FILE_EXTENSION), so a tiny eval'd entry registers tsx, then imports the file.
 */
function startThread(boot: ThreadBoot): Worker {
  // Native GPU libraries read the real process environment, which a thread cannot change
  // (its process.env is a copy): set what the webgpu backend needs before the thread starts.
  prepareGpuEnvironment();
  const entry = new URL(
    import.meta.url.endsWith('.ts') ? './thread.ts' : './thread.js',
    import.meta.url,
  );
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, { workerData: boot });
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(code, { eval: true, workerData: boot });
}
