/** Reconnect delays: exponential from `initialMs`, capped at `maxMs`, with full jitter. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Injected in tests; default Math.random. */
  random?: () => number;
}

/**
 * The delay before reconnect attempt `attempt` (0-based). Jitter between half and all of the
 * exponential step, so that workers cut off by one coordinator restart do not all reconnect in
 * the same millisecond.
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const step = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  const r = (options.random ?? Math.random)();
  return Math.round(step * (0.5 + r / 2));
}
