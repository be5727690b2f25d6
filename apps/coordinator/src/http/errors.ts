/** Errors the dashboard API turns into HTTP answers (`{"error": message}`). */

/** An answer other than 2xx with a message that names what was wrong (a parameter, an id). */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 421,
    message: string,
  ) {
    super(message);
  }
}

export type SweepActionErrorCode = 'not-found' | 'conflict' | 'invalid';

/**
 * Thrown by a SweepControl: `not-found` (no such sweep: 404), `conflict` (the action is not
 * valid in the sweep's current state, e.g. resume a cancelled sweep: 409) or `invalid` (a bad
 * sweep file or trial request: 400). The message names the id and the problem.
 */
export class SweepActionError extends Error {
  override readonly name = 'SweepActionError';
  constructor(
    readonly code: SweepActionErrorCode,
    readonly sweepId: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
