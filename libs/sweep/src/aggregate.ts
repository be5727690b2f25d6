/**
 * What the coordinator computes from recorded trials: the objective of an epoch, a config's
 * summary over its seeds, the best config, and the sampler's history. Plain data in, plain data
 * out; the trial shapes are structural subsets of @mmim/experiments' TrialRecord.
 *
 * A trial's value is its `bestValue` (the best objective over its finished epochs, by the
 * sweep's goal); a config's objective is the mean of its seeds' values.
 */
import type { FinishedConfig, SamplerHistory } from './samplers.js';
import type { Goal } from './sweep-config.js';

/** `valid.mae` of `{valid: {mae: ...}, test: {...}}`; null when absent or not a finite number. */
export function objectiveOf(entry: object, metricName: string): number | null {
  const dot = metricName.indexOf('.');
  if (dot <= 0)
    throw new Error(`metric name must be split.metric (got ${JSON.stringify(metricName)})`);
  const split = (entry as Record<string, unknown>)[metricName.slice(0, dot)];
  if (split === null || typeof split !== 'object') return null;
  const value = (split as Record<string, unknown>)[metricName.slice(dot + 1)];
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** True when a is strictly better than b; any number beats null. */
export function better(a: number | null, b: number | null, goal: Goal): boolean {
  if (a === null) return false;
  if (b === null) return true;
  return goal === 'minimize' ? a < b : a > b;
}

export type TrialStateLike = 'queued' | 'running' | 'completed' | 'pruned' | 'failed' | 'cancelled';

/** The fields of a TrialRecord these helpers read. */
export interface TrialLike {
  configKey: string;
  params: Record<string, unknown>;
  seed: number;
  state: TrialStateLike;
  bestValue: number | null;
  /** Creation order in the sweep; history is ordered by each config's first trial. */
  number: number;
  id?: string;
}

export interface ConfigSummary {
  /** Mean over the seeds that completed; null before any did. */
  mean: number | null;
  /** Sample standard deviation (n - 1) of the same values; null with fewer than two. */
  std: number | null;
  /** One entry per completed seed run, in seed order. */
  perSeed: { seed: number; value: number }[];
  /** Every seed of the sweep has a completed run. */
  complete: boolean;
}

/** Summary of one config's trials (its per-seed runs). `seeds`: the sweep's seeds. */
export function configSummary(
  trials: readonly TrialLike[],
  seeds: readonly number[],
): ConfigSummary {
  const perSeed = trials
    .filter((t) => t.state === 'completed' && t.bestValue !== null && Number.isFinite(t.bestValue))
    .map((t) => ({ seed: t.seed, value: t.bestValue as number }))
    .sort((a, b) => a.seed - b.seed);
  const n = perSeed.length;
  const mean = n === 0 ? null : perSeed.reduce((s, p) => s + p.value, 0) / n;
  const std =
    n < 2 || mean === null
      ? null
      : Math.sqrt(perSeed.reduce((s, p) => s + (p.value - mean) ** 2, 0) / (n - 1));
  const done = new Set(perSeed.map((p) => p.seed));
  return { mean, std, perSeed, complete: seeds.every((s) => done.has(s)) };
}

/** Trials grouped by configKey, groups in the order of each config's first trial. */
export function groupByConfig(trials: readonly TrialLike[]): Map<string, TrialLike[]> {
  const sorted = [...trials].sort((a, b) => a.number - b.number);
  const groups = new Map<string, TrialLike[]>();
  for (const t of sorted) {
    const group = groups.get(t.configKey);
    if (group === undefined) groups.set(t.configKey, [t]);
    else group.push(t);
  }
  return groups;
}

export interface BestConfig {
  configKey: string;
  value: number;
  trialIds: string[];
}

/**
 * The config with the best mean over its completed seeds (SweepRecord.best); with
 * `requireComplete`, only configs whose every seed completed compete. Ties keep the earlier config.
 */
export function bestConfig(
  trials: readonly TrialLike[],
  seeds: readonly number[],
  goal: Goal,
  options: { requireComplete?: boolean } = {},
): BestConfig | null {
  let best: BestConfig | null = null;
  for (const [key, group] of groupByConfig(trials)) {
    const summary = configSummary(group, seeds);
    if (summary.mean === null || (options.requireComplete === true && !summary.complete)) continue;
    if (best === null || better(summary.mean, best.value, goal))
      best = {
        configKey: key,
        value: summary.mean,
        trialIds: group.filter((t) => t.state === 'completed').map((t) => t.id ?? ''),
      };
  }
  return best;
}

const LIVE: readonly TrialStateLike[] = ['queued', 'running'];

/**
 * One config's outcome for the sampler, or null while any of its runs is queued or running.
 * completed: every run completed (value = mean); pruned: some run was pruned, failed or
 * cancelled but some have a value (value = mean of the values there are, pruned runs' best
 * so far included); failed: no run has a value.
 */
export function finishedConfigOf(group: readonly TrialLike[]): FinishedConfig | null {
  const first = group[0];
  if (first === undefined || group.some((t) => LIVE.includes(t.state))) return null;
  const values = group
    .filter(
      (t) =>
        (t.state === 'completed' || t.state === 'pruned') &&
        t.bestValue !== null &&
        Number.isFinite(t.bestValue),
    )
    .map((t) => t.bestValue as number);
  if (values.length === 0) return { params: first.params, value: null, state: 'failed' };
  const value = values.reduce((s, v) => s + v, 0) / values.length;
  const state = group.every((t) => t.state === 'completed') ? 'completed' : 'pruned';
  return { params: first.params, value, state };
}

/** The sampler's history rebuilt from every recorded trial of a sweep (e.g. after a restart). */
export function samplerHistory(trials: readonly TrialLike[]): SamplerHistory {
  const history: SamplerHistory = { finished: [], running: [] };
  for (const group of groupByConfig(trials).values()) {
    const finished = finishedConfigOf(group);
    if (finished !== null) history.finished.push(finished);
    else if (group[0] !== undefined) history.running.push(group[0].params);
  }
  return history;
}
