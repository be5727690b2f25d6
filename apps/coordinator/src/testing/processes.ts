/**
 * Test helpers: run the coordinator and workers as real child processes and wait on their
 * JSON log lines. Used by the e2e tests only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
export const COORDINATOR_MAIN = path.join(REPO, 'apps/coordinator/src/main.ts');
export const WORKER_MAIN = path.join(REPO, 'apps/worker/src/main.ts');

export type LogLine = Record<string, unknown> & { msg?: string };

/** Collects a process's JSON log lines and lets tests wait for one matching a predicate. */
export class LogWatch {
  readonly lines: LogLine[] = [];
  readonly #waiters = new Set<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();

  constructor(stream: NodeJS.ReadableStream) {
    readline.createInterface({ input: stream }).on('line', (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { msg: text };
      }
      this.lines.push(line);
      for (const w of this.#waiters) {
        if (w.match(line)) {
          this.#waiters.delete(w);
          w.resolve(line);
        }
      }
    });
  }

  /** The first line (past or future) matching `match`; rejects after `timeoutMs`. */
  waitFor(match: (l: LogLine) => boolean, timeoutMs: number, what = 'log line'): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (l: LogLine) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  count(match: (l: LogLine) => boolean): number {
    return this.lines.filter(match).length;
  }
}

export interface Child {
  proc: ChildProcess;
  log: LogWatch;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(file: string, args: string[], env: NodeJS.ProcessEnv): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    cwd: REPO,
    // Tests read the children's logs, so their level is fixed whatever the test runner's is.
    env: { ...process.env, MMIM_BACKEND: 'cpu', MMIM_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, log: new LogWatch(proc.stderr!), exited };
}

export interface CoordinatorChild extends Child {
  address: string;
  port: number;
}

/** Starts a coordinator and resolves once it printed its address line. */
export async function startCoordinator(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<CoordinatorChild> {
  const child = start(COORDINATOR_MAIN, args, env);
  const stdout = new LogWatch(child.proc.stdout!);
  const line = await Promise.race([
    stdout.waitFor((l) => l['event'] === 'listening', 20_000, 'the coordinator address line'),
    child.exited.then(({ code }) => {
      throw new Error(`coordinator exited (${code}) before listening`);
    }),
  ]);
  return { ...child, address: String(line['address']), port: Number(line['port']) };
}

export function startWorker(args: string[], env: NodeJS.ProcessEnv = {}): Child {
  return start(WORKER_MAIN, args, env);
}

/** Kills (SIGKILL unless told otherwise) and waits for the exit. */
export async function stop(child: Child, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill(signal);
  await child.exited;
}
