/**
 * Query-string parsing for the dashboard API. Each reader throws HttpError 400 naming the
 * parameter and the bad value, so a caller sees exactly what to fix.
 */
import { checkTrialSort, type TrialQuery, type TrialState } from '@mmim/experiments';
import { HttpError } from './errors.js';

export type Query = Record<string, unknown>;

const TRIAL_STATES: readonly TrialState[] = [
  'queued',
  'running',
  'completed',
  'pruned',
  'failed',
  'cancelled',
];

/** The parameter's single string value; repeating a parameter is an error. */
export function stringParam(query: Query, name: string): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') {
    throw new HttpError(400, `query parameter ${name} must be given once`);
  }
  return v;
}

export function intParam(
  query: Query,
  name: string,
  opts: { min: number; max: number; default: number },
): number {
  const raw = stringParam(query, name);
  if (raw === undefined || raw === '') return opts.default;
  if (!/^-?\d+$/.test(raw)) {
    throw new HttpError(
      400,
      `query parameter ${name} must be an integer, got ${JSON.stringify(raw)}`,
    );
  }
  const n = Number(raw);
  if (n < opts.min || n > opts.max) {
    throw new HttpError(
      400,
      `query parameter ${name} must be between ${opts.min} and ${opts.max}, got ${raw}`,
    );
  }
  return n;
}

/** A comma-separated list (empty items dropped); undefined when absent. */
export function listParam(query: Query, name: string): string[] | undefined {
  const raw = stringParam(query, name);
  if (raw === undefined) return undefined;
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** `sort`, `order`, `state`, `q`, `offset`, `limit` (≤ 1000, default 100) of a trials list. */
export function trialQuery(query: Query): TrialQuery {
  const out: TrialQuery = {
    offset: intParam(query, 'offset', { min: 0, max: Number.MAX_SAFE_INTEGER, default: 0 }),
    limit: intParam(query, 'limit', { min: 0, max: 1000, default: 100 }),
  };
  const sort = stringParam(query, 'sort');
  if (sort !== undefined && sort !== '') {
    const problem = checkTrialSort(sort);
    if (problem !== null) throw new HttpError(400, `query parameter sort: ${problem}`);
    out.sort = sort;
  }
  const order = stringParam(query, 'order');
  if (order !== undefined && order !== '') {
    if (order !== 'asc' && order !== 'desc') {
      throw new HttpError(
        400,
        `query parameter order must be asc or desc, got ${JSON.stringify(order)}`,
      );
    }
    out.order = order;
  }
  const states = listParam(query, 'state');
  if (states !== undefined && states.length > 0) {
    for (const s of states) {
      if (!(TRIAL_STATES as readonly string[]).includes(s)) {
        throw new HttpError(
          400,
          `query parameter state: unknown trial state ${JSON.stringify(s)} (use ${TRIAL_STATES.join(', ')})`,
        );
      }
    }
    out.state = states as TrialState[];
  }
  const q = stringParam(query, 'q');
  if (q !== undefined && q !== '') out.q = q;
  return out;
}
