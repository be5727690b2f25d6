/**
 * The sweep page's derived views, computed in Node from the trial records: hyperparameter
 * importance, best-so-far history and the parallel-coordinates rows.
 *
 * Importance is the absolute Spearman rank correlation of each hyperparameter with the
 * objective over finished trials (completed or pruned, with a best value), normalised to sum 1.
 * We chose rank correlation over fANOVA because it needs no model fitting, is exact for the
 * monotone effects learning rates and sizes usually have, is cheap for thousands of trials
 * and is easy to explain; it misses non-monotone effects (an optimum in the middle of a range).
 */
import type { SweepRecord, TrialRecord, TrialState } from '@mmim/experiments';

export interface ParamImportance {
  name: string;
  /** |correlation| / sum over params of |correlation|; 0 for every param when the sum is 0. */
  importance: number;
  /** Spearman rank correlation with the objective, in [-1, 1]; 0 when undefined. */
  correlation: number;
  /** Finished trials that have this parameter. */
  n: number;
}

export interface BestPoint {
  at: number;
  value: number;
  trialId: string;
}

export interface ParallelRow {
  trialId: string;
  state: TrialState;
  values: (number | string | null)[];
  value: number;
}

const FINISHED: ReadonlySet<TrialState> = new Set(['completed', 'pruned']);

/** Finished trials with an objective: what importance and best-history are computed over. */
export function finishedTrials(
  trials: readonly TrialRecord[],
): (TrialRecord & { bestValue: number })[] {
  return trials.filter(
    (t): t is TrialRecord & { bestValue: number } => FINISHED.has(t.state) && t.bestValue !== null,
  );
}

/** Average ranks (ties share the mean of their positions), 1-based. */
export function ranks(values: readonly number[]): number[] {
  const order = values.map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v);
  const out = new Array<number>(values.length).fill(0);
  let i = 0;
  while (i < order.length) {
    let j = i;
    while (
      j + 1 < order.length &&
      (order[j + 1] as { v: number }).v === (order[i] as { v: number }).v
    )
      j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) out[(order[k] as { i: number }).i] = rank;
    i = j + 1;
  }
  return out;
}

/** Spearman's rho: Pearson correlation of the average ranks; 0 when either side is constant. */
export function spearman(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  if (n < 2 || y.length !== n) return 0;
  const rx = ranks(x);
  const ry = ranks(y);
  const mean = (n + 1) / 2;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (rx[i] as number) - mean;
    const dy = (ry[i] as number) - mean;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return 0;
  return sxy / Math.sqrt(sxx * syy);
}

/**
 * A parameter value as a number for ranking: numbers as they are, booleans 0/1, categoricals by
 * their position in the sweep spec's `values` list (ordinal coding), else in sorted order.
 */
function encoder(
  name: string,
  sweep: SweepRecord,
  seen: readonly unknown[],
): (v: unknown) => number | null {
  const params = sweep.spec['parameters'];
  const spec =
    typeof params === 'object' && params !== null
      ? (params as Record<string, unknown>)[name]
      : undefined;
  const declared =
    typeof spec === 'object' &&
    spec !== null &&
    Array.isArray((spec as { values?: unknown }).values)
      ? (spec as { values: unknown[] }).values.map((v) => JSON.stringify(v))
      : null;
  const sorted = [...new Set(seen.map((v) => JSON.stringify(v)))].sort();
  const order = declared ?? sorted;
  return (v) => {
    if (typeof v === 'number') return Number.isFinite(v) ? v : null;
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (v === undefined || v === null) return null;
    const i = order.indexOf(JSON.stringify(v));
    return i >= 0 ? i : order.length + sorted.indexOf(JSON.stringify(v)); // undeclared: after the declared ones
  };
}

export function importance(sweep: SweepRecord, trials: readonly TrialRecord[]): ParamImportance[] {
  const done = finishedTrials(trials);
  const names = [...new Set(done.flatMap((t) => Object.keys(t.params)))].sort();
  const raw = names.map((name) => {
    const encode = encoder(
      name,
      sweep,
      done.map((t) => t.params[name]),
    );
    const xs: number[] = [];
    const ys: number[] = [];
    for (const t of done) {
      const x = encode(t.params[name]);
      if (x === null) continue;
      xs.push(x);
      ys.push(t.bestValue);
    }
    return { name, correlation: spearman(xs, ys), n: xs.length };
  });
  const total = raw.reduce((s, p) => s + Math.abs(p.correlation), 0);
  return raw
    .map((p) => ({ ...p, importance: total > 0 ? Math.abs(p.correlation) / total : 0 }))
    .sort((a, b) => b.importance - a.importance || (a.name < b.name ? -1 : 1));
}

/** Best objective so far over finished trials in the order they ended; one point per improvement. */
export function bestHistory(sweep: SweepRecord, trials: readonly TrialRecord[]): BestPoint[] {
  const done = finishedTrials(trials)
    .filter((t) => t.endedAt !== null)
    .sort((a, b) => (a.endedAt as number) - (b.endedAt as number) || a.number - b.number);
  const out: BestPoint[] = [];
  let best: number | null = null;
  for (const t of done) {
    const improves =
      best === null || (sweep.metric.goal === 'minimize' ? t.bestValue < best : t.bestValue > best);
    if (improves) {
      best = t.bestValue;
      out.push({ at: t.endedAt as number, value: t.bestValue, trialId: t.id });
    }
  }
  return out;
}

function plotValue(v: unknown): number | string | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return null;
  return typeof v === 'boolean' ? String(v) : JSON.stringify(v);
}

/** Every trial with an objective so far (running ones too, so the plot fills live). */
export function parallelRows(
  sweep: SweepRecord,
  trials: readonly TrialRecord[],
): { params: string[]; metric: string; rows: ParallelRow[] } {
  const scored = trials.filter((t) => t.bestValue !== null);
  const params = [...new Set(scored.flatMap((t) => Object.keys(t.params)))].sort();
  return {
    params,
    metric: sweep.metric.name,
    rows: scored.map((t) => ({
      trialId: t.id,
      state: t.state,
      values: params.map((p) => plotValue(t.params[p])),
      value: t.bestValue as number,
    })),
  };
}
