/**
 * Admission: how many workers one trial may ask for. A gang is placed whole or not at all, so a
 * trial larger than the cluster can ever hold would wait forever; it is refused when it is
 * submitted (HTTP 400 naming the limit) instead.
 *
 * The limit is the larger of a configured floor (`--max-workers-per-trial`; `mmim up` passes its
 * worker count) and the workers registered now: a cluster that grew past its flag can run what
 * its workers hold, and a sweep created before the workers register is judged by the flag.
 */

/** The floor when no flag is given: larger than any one trial of this model needs today. */
export const DEFAULT_MAX_WORKERS_PER_TRIAL = 64;

export class WorkersPerTrialLimit {
  readonly #configured: number;
  readonly #registered: () => number;

  /** `registered`: how many workers are registered (not lost) now. */
  constructor(configured: number, registered: () => number) {
    if (!Number.isSafeInteger(configured) || configured < 1) {
      throw new Error(`the maximum workers per trial must be an integer >= 1, got ${configured}`);
    }
    this.#configured = configured;
    this.#registered = registered;
  }

  /** The most workers a trial may ask for now. */
  get(): number {
    return Math.max(this.#configured, this.#registered());
  }

  /**
   * Why a trial of `workers` workers is refused (the message names `field` and the limit), or
   * null when it may be queued.
   */
  refusal(workers: number, field: string): string | null {
    const limit = this.get();
    if (workers <= limit) return null;
    const registered = this.#registered();
    return (
      `${field} ${workers} exceeds this cluster's maximum of ${limit} workers per trial ` +
      `(the larger of --max-workers-per-trial ${this.#configured} and the ${registered} ` +
      `registered worker(s)); such a trial could never be placed`
    );
  }
}
