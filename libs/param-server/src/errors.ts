/** Where in the protocol an error happened: every error names as much of it as is known. */
export interface ProtocolPlace {
  trial: string;
  step?: number;
  rank?: number;
  chunk?: number;
}

function describe(p: ProtocolPlace): string {
  const parts = [`trial ${p.trial}`];
  if (p.step !== undefined) parts.push(`step ${p.step}`);
  if (p.rank !== undefined) parts.push(`rank ${p.rank}`);
  if (p.chunk !== undefined) parts.push(`chunk ${p.chunk}`);
  return parts.join(', ');
}

/** A protocol violation or missing state (e.g. a gradient that expired before it was reduced). */
export class ParamServerError extends Error {
  constructor(
    message: string,
    readonly place: ProtocolPlace,
  ) {
    super(`${describe(place)}: ${message}`);
    this.name = 'ParamServerError';
  }
}

/** A wait ran past its deadline: usually a dead or slow peer. */
export class ParamServerTimeoutError extends ParamServerError {
  constructor(
    message: string,
    place: ProtocolPlace,
    readonly timeoutMs: number,
  ) {
    super(`${message} (timed out after ${timeoutMs} ms)`, place);
    this.name = 'ParamServerTimeoutError';
  }
}
