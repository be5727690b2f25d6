/**
 * Filtering, sorting and paging of trial records in Node (the store reads a sweep's trial
 * metas with one MGET; fine up to thousands of trials, see bench/dashboard).
 */
import type { TrialQuery } from './store-api.js';
import type { TrialRecord, TrialState } from './types.js';

export const TRIAL_SORT_KEYS = [
  'number',
  'state',
  'epochs',
  'bestValue',
  'lastValue',
  'createdAt',
] as const;

const STATE_ORDER: Record<TrialState, number> = {
  running: 0,
  queued: 1,
  completed: 2,
  pruned: 3,
  failed: 4,
  cancelled: 5,
};

/** Null when `sort` is a valid sort key, else a message naming it. */
export function checkTrialSort(sort: string): string | null {
  if ((TRIAL_SORT_KEYS as readonly string[]).includes(sort)) return null;
  if (sort.startsWith('param:') && sort.length > 'param:'.length) return null;
  return `unknown sort key ${JSON.stringify(sort)}: use one of ${TRIAL_SORT_KEYS.join(', ')} or param:<name>`;
}

type SortValue = number | string | null;

function sortValue(t: TrialRecord, sort: string): SortValue {
  switch (sort) {
    case 'number':
      return t.number;
    case 'state':
      return STATE_ORDER[t.state];
    case 'epochs':
      return t.epochs;
    case 'bestValue':
      return t.bestValue;
    case 'lastValue':
      return t.lastValue;
    case 'createdAt':
      return t.createdAt;
    default: {
      const v = t.params[sort.slice('param:'.length)];
      if (typeof v === 'number') return Number.isFinite(v) ? v : null;
      if (typeof v === 'string') return v;
      if (typeof v === 'boolean') return v ? 1 : 0;
      return v === undefined || v === null ? null : JSON.stringify(v);
    }
  }
}

/** Numbers before strings; `order` flips the direction; missing values always last. */
function compareValues(a: SortValue, b: SortValue, dir: number): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return (a - b) * dir;
  if (typeof a === 'number') return -1 * dir;
  if (typeof b === 'number') return dir;
  return (a < b ? -1 : a > b ? 1 : 0) * dir;
}

function matchesText(t: TrialRecord, q: string): boolean {
  const hay = `${t.id} ${t.configKey} ${t.state} ${JSON.stringify(t.params)} ${t.error ?? ''}`;
  return hay.toLowerCase().includes(q);
}

export function queryTrials(
  all: readonly TrialRecord[],
  query: TrialQuery = {},
): { total: number; trials: TrialRecord[] } {
  const sort = query.sort ?? 'number';
  const problem = checkTrialSort(sort);
  if (problem !== null) throw new RangeError(problem);
  const dir = query.order === 'desc' ? -1 : 1;
  const states = query.state !== undefined && query.state.length > 0 ? new Set(query.state) : null;
  const q = query.q?.trim().toLowerCase() ?? '';
  const kept = all.filter(
    (t) => (states === null || states.has(t.state)) && (q === '' || matchesText(t, q)),
  );
  const keyed = kept.map((t) => ({ t, k: sortValue(t, sort) }));
  keyed.sort(
    (x, y) => compareValues(x.k, y.k, dir) || x.t.number - y.t.number || (x.t.id < y.t.id ? -1 : 1),
  );
  const offset = query.offset ?? 0;
  const limit = query.limit ?? keyed.length;
  return {
    total: kept.length,
    trials: keyed.slice(offset, offset + limit).map((x) => x.t),
  };
}
