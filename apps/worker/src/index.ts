/**
 * @mmim/worker — one worker process's roles, importable (the `mmim worker` command) as well as
 * runnable (main.ts):
 *
 * ```ts
 * const worker = await startWorker(parseWorkerOptions(argv, process.env));
 * process.on('SIGTERM', () => void worker.stop());
 * await worker.done; // rejects with FatalJoinError when the coordinator refuses the token
 * ```
 *
 * The worker joins the coordinator (WorkerAgent), keeps heartbeating, and trains each trial it
 * is assigned in a worker thread (TrialRunner), reporting epochs, curves and the trial's end.
 */
import fs from 'node:fs';
import os from 'node:os';
import { createLogger, initBackend, type Logger } from '@mmim/runtime';
import { WorkerAgent } from './agent.js';
import { workerCapabilities } from './capabilities.js';
import { parseConfig, USAGE, type WorkerConfig } from './options.js';
import { TrialRunner } from './trial/runner.js';

export {
  FatalJoinError,
  WorkerAgent,
  type WorkerActivity,
  type WorkerAgentOptions,
} from './agent.js';
export { workerCapabilities, type CapabilityFacts } from './capabilities.js';
export { USAGE, type WorkerConfig } from './options.js';
export { TrialRunner, type TrialRunnerOptions } from './trial/runner.js';
export type { ThreadMessage, TrialSummary } from './trial/messages.js';

/** A mistake in the worker's flags or environment; the message ends with the usage text. */
export class WorkerUsageError extends Error {
  override readonly name = 'WorkerUsageError';
}

/** Parses the worker's flags and environment (MMIM_JOIN_TOKEN, MMIM_REDIS_URL, MMIM_BACKEND). */
export function parseWorkerOptions(argv: string[], env: NodeJS.ProcessEnv): WorkerConfig {
  try {
    return parseConfig(argv, env);
  } catch (err) {
    throw new WorkerUsageError(`${(err as Error).message}\n${USAGE}`, { cause: err });
  }
}

/**
 * The whole worker process's life (main.ts and `mmim worker`): parse, join, train until
 * SIGTERM/SIGINT, then leave cleanly (`--help`: the usage on stdout, nothing else). Rejects
 * with WorkerUsageError on bad flags and with FatalJoinError when the coordinator refuses the
 * token.
 */
export async function runWorkerMain(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const log = createLogger('worker');
  const worker = await startWorker(parseWorkerOptions(argv, env), log);
  const shutdown = (signal: string): void => {
    log.info({ signal }, 'shutting down');
    void worker.stop();
  };
  const onTerm = (): void => shutdown('SIGTERM');
  const onInt = (): void => shutdown('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  try {
    await worker.done;
    await worker.stop();
  } finally {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
  }
}

export interface RunningWorker {
  /** Ends the running trial (TrialEnded STOPPED) and leaves the coordinator; idempotent. */
  stop(): Promise<void>;
  /** Settles when the worker has left: resolves after stop(), rejects on a refused token. */
  done: Promise<void>;
  readonly agent: WorkerAgent;
  readonly runner: TrialRunner;
}

/**
 * Touches `file` every 5 s while this process's event loop turns: the container health check
 * (deploy/healthcheck/worker-health.mjs) reads its age. Deliberately not tied to reaching the
 * coordinator: a worker keeps training through a coordinator restart and must not be killed
 * for it.
 */
function startLivenessFile(file: string | undefined, log: Logger): { stop(): void } {
  if (!file) return { stop: () => undefined };
  const touch = (): void => {
    try {
      const now = new Date();
      if (fs.existsSync(file)) fs.utimesSync(file, now, now);
      else fs.writeFileSync(file, `${process.pid}\n`);
    } catch (err) {
      log.warn({ file, err }, 'cannot touch the liveness file');
    }
  };
  touch();
  const timer = setInterval(touch, 5000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

function version(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? '0.0.0';
}

export async function startWorker(
  config: WorkerConfig,
  log: Logger = createLogger('worker'),
): Promise<RunningWorker> {
  // The main thread's backend only describes the device to the coordinator; trials initialise
  // their own in their thread.
  const backend = await initBackend({ backend: config.backend, logger: log });
  fs.mkdirSync(config.runDir, { recursive: true });
  const agent = new WorkerAgent({
    coordinator: config.coordinator,
    joinToken: config.joinToken,
    credentials: config.credentials,
    capabilities: workerCapabilities(backend, {
      workerName: config.workerName,
      version: version(),
      memoryBytes: os.totalmem(),
    }),
    log,
  });
  const runner = new TrialRunner(agent, {
    redisUrl: config.redisUrl,
    exchangeRedisUrl: config.exchangeRedisUrl,
    runDir: config.runDir,
    backend: config.backend,
    log,
    preloadWhileBusy: backend.name === 'wasm' || backend.name === 'cpu',
  });
  log.info(
    {
      coordinator: config.coordinator,
      workerName: config.workerName,
      redis: config.redisUrl !== null,
    },
    'joining',
  );
  const done = agent.run();
  const liveness = startLivenessFile(process.env['MMIM_LIVENESS_FILE'], log);
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      liveness.stop();
      const hadTrial = runner.current !== null;
      await runner.close();
      // Give the session a moment to carry the final TrialEnded before it closes.
      if (hadTrial) await new Promise((r) => setTimeout(r, 200));
      agent.stop();
      await done.catch(() => undefined);
    })();
    return stopping;
  };
  return { stop, done, agent, runner };
}
