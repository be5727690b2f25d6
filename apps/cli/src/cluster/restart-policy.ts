/**
 * When `mmim up` restarts a child that exited on its own: exponential backoff with a cap, and
 * a give-up after a run of rapid failures. A child that ran for `stableMs` before it failed
 * starts the count again: one crash a day is restarted forever, a crash loop is not.
 */
export interface RestartPolicyOptions {
  /** Delay before the first restart of a run of failures. */
  initialDelayMs: number;
  /** Cap on the delay; the delay doubles per rapid failure until it gets there. */
  maxDelayMs: number;
  /** A child that ran this long before it failed was healthy: its failure count restarts. */
  stableMs: number;
  /** Give up at this many failures in a row, each within `stableMs` of its start. */
  maxRapidFailures: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicyOptions = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  stableMs: 60_000,
  maxRapidFailures: 5,
};

export type RestartDecision =
  /** `failures`: this run of rapid failures so far (1 for the first). */
  | { action: 'restart'; delayMs: number; failures: number }
  | { action: 'give-up'; failures: number };

/** One child's failure history; `failed` is told how long the run that just ended lasted. */
export class RestartTracker {
  #failures = 0;

  constructor(readonly policy: RestartPolicyOptions = DEFAULT_RESTART_POLICY) {
    if (!(policy.maxRapidFailures >= 1)) {
      throw new Error(`maxRapidFailures must be >= 1, got ${policy.maxRapidFailures}`);
    }
    if (!(policy.initialDelayMs >= 0) || !(policy.maxDelayMs >= policy.initialDelayMs)) {
      throw new Error(
        `need 0 <= initialDelayMs <= maxDelayMs, got ${policy.initialDelayMs} and ${policy.maxDelayMs}`,
      );
    }
  }

  get failures(): number {
    return this.#failures;
  }

  failed(ranMs: number): RestartDecision {
    this.#failures = ranMs >= this.policy.stableMs ? 1 : this.#failures + 1;
    if (this.#failures >= this.policy.maxRapidFailures) {
      return { action: 'give-up', failures: this.#failures };
    }
    const delayMs = Math.min(
      this.policy.maxDelayMs,
      this.policy.initialDelayMs * 2 ** Math.min(this.#failures - 1, 30),
    );
    return { action: 'restart', delayMs, failures: this.#failures };
  }
}
