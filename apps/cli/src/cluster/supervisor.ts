/**
 * Watches the children of a local cluster and restarts the ones that exit on their own, with
 * the backoff of a RestartTracker per child; tells its reporter each exit, restart and give-up.
 * It never restarts anything once stopped, and it ignores a child it was told to release (one
 * the cluster stops on purpose) or one that a newer start of the same name has replaced.
 */
import {
  DEFAULT_RESTART_POLICY,
  RestartTracker,
  type RestartPolicyOptions,
} from './restart-policy.js';

export interface SupervisedChild {
  /** Unique per role and instance: 'coordinator', 'redis', a worker's name. */
  readonly name: string;
  /** What the console calls it: 'worker local-0', 'coordinator', 'redis'. */
  readonly label: string;
  readonly pid: number | undefined;
  readonly log: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

interface ExitFacts {
  child: string;
  pid: number | null;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** How long it ran, ms. */
  ranMs: number;
  /** Failures in a row, each within the policy's stableMs of its start, this one included. */
  failures: number;
  log: string;
}

export type SupervisionEvent =
  | (ExitFacts & { kind: 'exited'; restartInMs: number })
  | { kind: 'restarted'; child: string; pid: number | null }
  | { kind: 'restart-failed'; child: string; err: Error }
  | (ExitFacts & { kind: 'gave-up'; maxRapidFailures: number; stableMs: number });

export type GaveUp = Extract<SupervisionEvent, { kind: 'gave-up' }>;

/**
 * Starts the child again; resolves with the new one once it is up (the supervisor watches the
 * new one itself, through `watch`, which the start path calls).
 */
export type Restart = () => Promise<SupervisedChild>;

/**
 * A Ctrl-C in a terminal signals the whole process group: children may exit a moment before
 * `mmim up` has seen its own SIGINT. An exit is only judged after this grace, so the shutdown's
 * exits are neither reported nor restarted.
 */
const EXIT_GRACE_MS = 250;

export class Supervisor {
  readonly policy: RestartPolicyOptions;
  readonly #report: (event: SupervisionEvent) => void;
  readonly #onGiveUp: (event: GaveUp) => void;
  readonly #current = new Map<string, SupervisedChild>();
  readonly #trackers = new Map<string, RestartTracker>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;

  constructor(
    policy: Partial<RestartPolicyOptions>,
    report: (event: SupervisionEvent) => void,
    onGiveUp: (event: GaveUp) => void,
  ) {
    this.policy = { ...DEFAULT_RESTART_POLICY, ...policy };
    new RestartTracker(this.policy); // validates the policy now, not at the first crash
    this.#report = report;
    this.#onGiveUp = onGiveUp;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** From now on, `child` exiting on its own is reported and `restart` is called after backoff. */
  watch(child: SupervisedChild, restart: Restart): void {
    const startedAt = Date.now();
    this.#current.set(child.name, child);
    void child.exited.then(({ code, signal }) => {
      const ranMs = Date.now() - startedAt;
      this.#later(EXIT_GRACE_MS, () => this.#exited(child, restart, { code, signal, ranMs }));
    });
  }

  /** The cluster stops this child on purpose: its exit is not a failure. */
  release(child: SupervisedChild): void {
    if (this.#current.get(child.name) === child) this.#current.delete(child.name);
  }

  /** No restart after this, pending ones included. */
  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  #later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  #exited(
    child: SupervisedChild,
    restart: Restart,
    exit: { code: number | null; signal: NodeJS.Signals | null; ranMs: number },
  ): void {
    if (this.#stopped || this.#current.get(child.name) !== child) return;
    this.#current.delete(child.name);
    let tracker = this.#trackers.get(child.name);
    if (!tracker) {
      tracker = new RestartTracker(this.policy);
      this.#trackers.set(child.name, tracker);
    }
    const decision = tracker.failed(exit.ranMs);
    const facts: ExitFacts = {
      child: child.label,
      pid: child.pid ?? null,
      code: exit.code,
      signal: exit.signal,
      ranMs: exit.ranMs,
      failures: decision.failures,
      log: child.log,
    };
    if (decision.action === 'give-up') {
      const event: GaveUp = {
        kind: 'gave-up',
        ...facts,
        maxRapidFailures: this.policy.maxRapidFailures,
        stableMs: this.policy.stableMs,
      };
      this.#report(event);
      this.#onGiveUp(event);
      return;
    }
    this.#report({ kind: 'exited', ...facts, restartInMs: decision.delayMs });
    this.#later(decision.delayMs, () => {
      if (this.#stopped) return;
      restart().then(
        (next) => {
          if (!this.#stopped)
            this.#report({ kind: 'restarted', child: next.label, pid: next.pid ?? null });
        },
        (err: unknown) => {
          // Its exit, watched through the start path, counts as the next failure.
          if (!this.#stopped) {
            this.#report({
              kind: 'restart-failed',
              child: child.label,
              err: err instanceof Error ? err : new Error(String(err)),
            });
          }
        },
      );
    });
  }
}

/** One console line per event. */
export function describeSupervision(e: SupervisionEvent): string {
  const how = (f: ExitFacts): string =>
    `${f.child}${f.pid === null ? '' : ` (pid ${f.pid})`} exited (${
      f.signal !== null ? `killed by ${f.signal}` : `exit code ${f.code}`
    }) after ${seconds(f.ranMs)}`;
  switch (e.kind) {
    case 'exited':
      return `${how(e)}; restarting in ${seconds(e.restartInMs)} (failure ${e.failures} in a row; log: ${e.log})`;
    case 'restarted':
      return `${e.child} restarted${e.pid === null ? '' : ` (pid ${e.pid})`}`;
    case 'restart-failed':
      return `${e.child} did not come back: ${e.err.message}`;
    case 'gave-up':
      return `${how(e)}; giving up: ${e.failures} failures in a row, each within ${seconds(e.stableMs)} of starting (log: ${e.log})`;
  }
}

/** The event as one `--json` line's object: `event` names the kind, errors become messages. */
export function supervisionRecord(e: SupervisionEvent): Record<string, unknown> {
  if (e.kind === 'restart-failed') return { event: e.kind, child: e.child, error: e.err.message };
  const { kind, ...rest } = e;
  return { event: kind, ...rest };
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}
