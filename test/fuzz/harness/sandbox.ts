/**
 * Runs fuzz inputs in a child process, libFuzzer's fork mode in miniature: a parser that aborts
 * the process (e.g. V8's "RegExpCompiler Allocation failed" after a deep recursion) or never
 * returns is recorded as a crash of that input, and the next input gets a fresh child.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BUDGET_UNIT_BYTES,
  DEFAULT_BUDGET,
  runOne,
  type Budget,
  type FuzzTarget,
} from './check.js';

/** An outcome without live objects, as it crosses the process boundary. */
export interface Judged {
  kind: 'value' | 'refused' | 'crash';
  ms: number;
  growth: number;
  reason?: string;
  stack?: string;
}

/** Runs one input through one target. */
export type Runner = (target: FuzzTarget, bytes: Uint8Array, budget?: Budget) => Promise<Judged>;

/** The plain in-process runner (for targets that cannot take the process down). */
export const inProcess: Runner = async (target, bytes, budget = DEFAULT_BUDGET) => {
  const o = await runOne(target, bytes, budget);
  if (o.kind !== 'crash') return { kind: o.kind, ms: o.ms, growth: o.growth };
  const stack = o.error instanceof Error ? (o.error.stack ?? o.error.message) : String(o.error);
  return { kind: 'crash', ms: o.ms, growth: o.growth, reason: o.reason, stack };
};

const CHILD = fileURLToPath(new URL('./sandbox-child.ts', import.meta.url));

/** How long past the time budget an input may run before its child is killed as hung. */
const HANG_GRACE_MS = 4000;

interface Pending {
  id: number;
  resolve: (j: Judged) => void;
  timer: NodeJS.Timeout;
  started: number;
}

export class Sandbox {
  #child: ChildProcess | null = null;
  #ready: Promise<void> | null = null;
  #pending: Pending | null = null;
  #stderr = '';
  #nextId = 1;
  /** The children's scratch folder, removed by close() whatever happened to them. */
  #scratch: string | null = null;
  /** Targets the current child has imported (or is importing). */
  #prepared = new Map<string, Promise<void>>();
  /** Children started so far (1 + the number of crashes that killed one). */
  starts = 0;

  #start(): Promise<void> {
    this.#stderr = '';
    this.#prepared = new Map();
    this.starts += 1;
    this.#scratch ??= fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-fuzz-sandbox-'));
    const child = fork(CHILD, [], {
      execArgv: ['--import', 'tsx', '--max-old-space-size=512'],
      env: { ...process.env, MMIM_FUZZ_SCRATCH: this.#scratch },
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.#child = child;
    child.stderr?.on('data', (d: Buffer) => {
      this.#stderr = (this.#stderr + d.toString()).slice(-4000);
    });
    child.on('exit', (code, signal) => {
      if (this.#child === child) {
        this.#child = null;
        this.#ready = null;
      }
      const p = this.#pending;
      if (!p) return;
      this.#pending = null;
      clearTimeout(p.timer);
      const fatal = this.#stderr.split('\n').find((l) => /FATAL|Error|Abort/i.test(l)) ?? '';
      p.resolve({
        kind: 'crash',
        ms: performance.now() - p.started,
        growth: 0,
        reason: `process died (${signal ?? `exit code ${code}`})${fatal ? `: ${fatal.trim()}` : ''}`,
        stack: this.#stderr,
      });
    });
    child.on('message', (m: { ready?: boolean; id?: number; judged?: Judged }) => {
      const p = this.#pending;
      if (m.judged && p && m.id === p.id) {
        this.#pending = null;
        clearTimeout(p.timer);
        p.resolve(m.judged);
      }
    });
    return new Promise((resolve, reject) => {
      const onMessage = (m: { ready?: boolean }): void => {
        if (m.ready) {
          child.off('exit', onExit);
          resolve();
        }
      };
      const onExit = (): void =>
        reject(new Error(`fuzz sandbox child exited at start-up: ${this.#stderr}`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  }

  /**
   * Starts the child (if none runs) and has it import `name`'s target, outside any time budget.
   * Call early, without awaiting, to overlap the imports with other work.
   */
  prepare(name: string): Promise<void> {
    if (!this.#child) this.#ready = this.#start();
    const ready = this.#ready as Promise<void>;
    let prepared = this.#prepared.get(name);
    if (!prepared) {
      prepared = ready.then(() => {
        const child = this.#child;
        if (!child) throw new Error('fuzz sandbox child is gone');
        return new Promise<void>((resolve, reject) => {
          const onMessage = (m: { prepared?: string }): void => {
            if (m.prepared !== name) return;
            child.off('message', onMessage);
            child.off('exit', onExit);
            resolve();
          };
          const onExit = (): void =>
            reject(new Error(`fuzz sandbox child died loading ${name}: ${this.#stderr}`));
          child.on('message', onMessage);
          child.once('exit', onExit);
          child.send({ prepare: name });
        });
      });
      this.#prepared.set(name, prepared);
    }
    return prepared;
  }

  readonly run: Runner = async (target, bytes, budget = DEFAULT_BUDGET) => {
    if (this.#pending) throw new Error('Sandbox.run: one input at a time');
    await this.prepare(target.name);
    const child = this.#child;
    if (!child) throw new Error('fuzz sandbox child is gone');
    const id = this.#nextId++;
    return new Promise<Judged>((resolve) => {
      const limit = budget.ms * Math.max(1, bytes.length / BUDGET_UNIT_BYTES) + HANG_GRACE_MS;
      const started = performance.now();
      const timer = setTimeout(() => {
        if (this.#pending?.id !== id) return;
        this.#pending = null;
        child.kill('SIGKILL');
        resolve({
          kind: 'crash',
          ms: performance.now() - started,
          growth: 0,
          reason: `hung: no answer within ${limit} ms (killed)`,
        });
      }, limit);
      this.#pending = { id, resolve, timer, started };
      child.send({ id, target: target.name, bytes, budget });
    });
  };

  /** Ends the child; safe to call twice. */
  close(): void {
    const child = this.#child;
    this.#child = null;
    this.#ready = null;
    if (child && child.connected) child.disconnect();
    if (this.#scratch !== null) fs.rmSync(this.#scratch, { recursive: true, force: true });
    this.#scratch = null;
  }
}
