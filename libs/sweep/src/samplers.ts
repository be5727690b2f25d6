/**
 * Samplers in Optuna's ask/tell spirit, but stateless: `ask(history, index)` is a pure function
 * of the recorded history, the sampler seed and the config number, so a restarted coordinator
 * rebuilds the sampler from Redis and gets exactly the next config it would have got.
 *
 * The table of samplers is SAMPLERS at the end of this file.
 *
 * - grid: the index-th grid point (order in space.ts), null past the end.
 * - random: independent draws, one RNG stream per (seed, index, parameter).
 * - bayes: TPE (Bergstra et al. 2011) as Optuna's TPESampler does it, univariate (each parameter
 *   has its own pair of estimators; no joint/multivariate model):
 *   * the first `nStartup` (default 5) scored configs are random draws;
 *   * finished configs with a value (completed, or pruned with the value they had) are sorted
 *     by the goal-oriented value; the best gamma(n) = min(ceil(0.1 n), 25) are "good", where
 *     n counts every finished and running config; the rest, failed configs (no value) and the
 *     running ones are "bad";
 *   * constant liar: running configs join the bad set (the worst possible lie), so parallel
 *     asks made while they run are pushed away from them;
 *   * l(x) and g(x) are Parzen estimators (parzen.ts) fitted to the good and bad sets with
 *     Optuna's bandwidths, prior and weights; `nEiCandidates` (24) draws from l(x) are scored
 *     by log l(x) - log g(x) and the best is kept.
 * Random and TPE never return a config already in the history (finished or running, compared
 * by configKey): they redraw on other streams, and in a finite discrete space they return null
 * once every point has been tried.
 */
import { CategoricalParzen, NumericParzen, defaultWeights, type NumericSpace } from './parzen.js';
import { rngFor, type Rng } from './rng.js';
import {
  canonicalJson,
  configKey,
  gridPoint,
  gridSize,
  isDiscrete,
  parameterNames,
  sampleFrom,
  stepCount,
  stepValue,
  type Distribution,
  type Scalar,
} from './space.js';
import { z } from 'zod';
import type { Goal, SweepSpec, TpeOptions } from './sweep-config.js';

export interface FinishedConfig {
  params: Record<string, unknown>;
  /** The config's objective (mean over its seeds); null: failed/pruned without a value. */
  value: number | null;
  state: 'completed' | 'pruned' | 'failed';
}

export interface SamplerHistory {
  /** Finished configs, oldest first. */
  finished: FinishedConfig[];
  /** Configs sampled but not finished (queued or running), oldest first. */
  running: Record<string, unknown>[];
}

export interface Sampler {
  readonly name: string;
  /** Next config to try, or null when the space is exhausted. */
  ask(history: SamplerHistory, index: number): Record<string, unknown> | null;
}

/** Redraws tried before giving up on finding an unseen config. */
const MAX_ATTEMPTS = 64;

/** The stream for one parameter of one config on one attempt. */
function streamFor(seed: number, index: number, name: string, attempt: number): Rng {
  return rngFor(seed, index, attempt === 0 ? name : `${name}#${attempt}`);
}

function seenKeys(history: SamplerHistory): Set<string> {
  return new Set([
    ...history.finished.map((f) => configKey(f.params)),
    ...history.running.map((r) => configKey(r)),
  ]);
}

/**
 * Call `draw(attempt)` until it gives a config not in the history. In a finite discrete space,
 * null once all points are taken, and a seeded scan of the grid if every redraw collided.
 */
function fresh(
  parameters: Record<string, Distribution>,
  history: SamplerHistory,
  seed: number,
  index: number,
  draw: (attempt: number) => Record<string, Scalar>,
): Record<string, Scalar> | null {
  const seen = seenKeys(history);
  const finite = Object.values(parameters).every(isDiscrete);
  const size = finite ? gridSize(parameters) : Number.POSITIVE_INFINITY;
  if (seen.size >= size) return null;
  let last: Record<string, Scalar> | null = null;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    last = draw(attempt);
    if (!seen.has(configKey(last))) return last;
  }
  if (!finite) return last;
  const start = Math.floor(rngFor(seed, index, '#scan').next() * size);
  for (let i = 0; i < size; i++) {
    const point = gridPoint(parameters, (start + i) % size) as Record<string, Scalar>;
    if (!seen.has(configKey(point))) return point;
  }
  return null;
}

function randomConfig(
  parameters: Record<string, Distribution>,
  seed: number,
  index: number,
  attempt: number,
): Record<string, Scalar> {
  return Object.fromEntries(
    parameterNames(parameters).map((name) => [
      name,
      sampleFrom(parameters[name] as Distribution, streamFor(seed, index, name, attempt)),
    ]),
  );
}

export class GridSampler implements Sampler {
  readonly name = 'grid';
  constructor(private readonly parameters: Record<string, Distribution>) {}

  ask(_history: SamplerHistory, index: number): Record<string, unknown> | null {
    return gridPoint(this.parameters, index);
  }
}

export class RandomSampler implements Sampler {
  readonly name = 'random';
  constructor(
    private readonly parameters: Record<string, Distribution>,
    private readonly seed: number,
  ) {}

  ask(history: SamplerHistory, index: number): Record<string, unknown> | null {
    return fresh(this.parameters, history, this.seed, index, (attempt) =>
      randomConfig(this.parameters, this.seed, index, attempt),
    );
  }
}

export interface TpeSettings {
  goal: Goal;
  seed: number;
  nStartup: number;
  nEiCandidates: number;
}

/** Optuna's default gamma. */
export function tpeGamma(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25);
}

/** How one parameter maps to the Parzen estimators' space and back. */
interface Encoding {
  /** Internal value of a recorded value, or null when it does not belong to the space. */
  encode(value: unknown): number | null;
  decode(internal: number): Scalar;
  fit(obs: number[], weights: number[]): { sample(rng: Rng): number; logPdf(x: number): number };
}

function encodingOf(dist: Distribution): Encoding | null {
  const numeric = (
    space: NumericSpace,
    encode: (v: number) => number,
    decode: (t: number) => Scalar,
  ): Encoding => ({
    encode: (v) => (typeof v === 'number' && Number.isFinite(v) ? encode(v) : null),
    decode,
    fit: (obs, weights) => new NumericParzen(space, obs, weights),
  });
  switch (dist.kind) {
    case 'constant':
      return null;
    case 'categorical': {
      const keys = dist.values.map((v) => canonicalJson(v));
      return {
        encode: (v) => {
          const i = keys.indexOf(canonicalJson(v));
          return i < 0 ? null : i;
        },
        decode: (i) => dist.values[i] ?? null,
        fit: (obs, weights) => new CategoricalParzen(dist.values.length, obs, weights),
      };
    }
    case 'uniform': {
      const { min, max } = dist;
      return numeric(
        { low: min, high: max, discrete: false, prior: { mu: (min + max) / 2, sigma: max - min } },
        (v) => v,
        (t) => t,
      );
    }
    case 'log_uniform_values': {
      const low = Math.log(dist.min);
      const high = Math.log(dist.max);
      return numeric(
        { low, high, discrete: false, prior: { mu: (low + high) / 2, sigma: high - low } },
        (v) => (v > 0 ? Math.log(v) : Number.NaN),
        (t) => Math.min(dist.max, Math.max(dist.min, Math.exp(t))),
      );
    }
    case 'normal': {
      const { mu, sigma } = dist;
      return numeric(
        { low: mu - 4 * sigma, high: mu + 4 * sigma, discrete: false, prior: { mu, sigma } },
        (v) => v,
        (t) => t,
      );
    }
    case 'int_uniform':
    case 'q_uniform': {
      const q = dist.kind === 'q_uniform' ? dist.q : 1;
      const n = stepCount(dist.min, dist.max, q);
      const high = n - 0.5;
      return numeric(
        { low: -0.5, high, discrete: true, prior: { mu: (n - 1) / 2, sigma: high + 0.5 } },
        (v) => Math.min(n - 1, Math.max(0, Math.round((v - dist.min) / q))),
        (k) => stepValue(dist.min, q, k),
      );
    }
  }
}

export class TpeSampler implements Sampler {
  readonly name = 'tpe';
  constructor(
    private readonly parameters: Record<string, Distribution>,
    private readonly settings: TpeSettings,
  ) {}

  ask(history: SamplerHistory, index: number): Record<string, unknown> | null {
    const { seed } = this.settings;
    const split = this.split(history);
    if (split.scored < this.settings.nStartup)
      return fresh(this.parameters, history, seed, index, (attempt) =>
        randomConfig(this.parameters, seed, index, attempt),
      );
    return fresh(this.parameters, history, seed, index, (attempt) =>
      Object.fromEntries(
        parameterNames(this.parameters).map((name) => [
          name,
          this.suggest(name, split.good, split.bad, streamFor(seed, index, name, attempt)),
        ]),
      ),
    );
  }

  /** Good and bad configs (params only, oldest first) and how many had a usable value. */
  private split(history: SamplerHistory): {
    good: Record<string, unknown>[];
    bad: Record<string, unknown>[];
    scored: number;
  } {
    const sign = this.settings.goal === 'minimize' ? 1 : -1;
    const scored: { i: number; loss: number }[] = [];
    const unscored: number[] = [];
    history.finished.forEach((f, i) => {
      if (f.state !== 'failed' && f.value !== null && Number.isFinite(f.value))
        scored.push({ i, loss: sign * f.value });
      else unscored.push(i);
    });
    // Stable: equal values keep history order.
    const ranked = [...scored].sort((a, b) => a.loss - b.loss || a.i - b.i);
    const nGood = Math.min(
      tpeGamma(history.finished.length + history.running.length),
      ranked.length,
    );
    const goodIdx = new Set(ranked.slice(0, nGood).map((r) => r.i));
    const good: Record<string, unknown>[] = [];
    const bad: Record<string, unknown>[] = [];
    history.finished.forEach((f, i) => (goodIdx.has(i) ? good : bad).push(f.params));
    return { good, bad: [...bad, ...history.running], scored: scored.length };
  }

  private suggest(
    name: string,
    good: Record<string, unknown>[],
    bad: Record<string, unknown>[],
    rng: Rng,
  ): Scalar {
    const dist = this.parameters[name] as Distribution;
    const enc = encodingOf(dist);
    if (enc === null) return sampleFrom(dist, rng); // a constant
    const observe = (configs: Record<string, unknown>[]) => {
      const obs = configs
        .map((c) => enc.encode(c[name]))
        .filter((x): x is number => x !== null && !Number.isNaN(x));
      return enc.fit(obs, defaultWeights(obs.length));
    };
    const l = observe(good);
    const g = observe(bad);
    let best = Number.NaN;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < this.settings.nEiCandidates; i++) {
      const x = l.sample(rng);
      const score = l.logPdf(x) - g.logPdf(x);
      if (Number.isNaN(best) || score > bestScore) {
        best = x;
        bestScore = score;
      }
    }
    return enc.decode(best);
  }
}

/** What a sampler entry builds from: the parsed sweep (its parameters, seed, goal, options). */
export interface SamplerEntry {
  /** One line for docs and `--help`. */
  readonly description: string;
  /** Only discrete parameters allowed, and the run cap defaults to the grid size. */
  readonly discreteOnly: boolean;
  /**
   * The top-level key holding this sampler's options (e.g. `tpe`) and its zod schema; the key
   * is only allowed with this method.
   */
  readonly options?: { readonly key: string; readonly schema: z.ZodType };
  create(spec: SweepSpec): Sampler;
}

/** TPE's defaults (Optuna's): the `tpe:` key only overrides them. */
export const TPE_DEFAULTS: TpeOptions = { nStartup: 5, nEiCandidates: 24 };

const positive = z.number().int().positive();

/**
 * THE sampler table: `method:` in a sweep file is one of its keys, and sweep-config.ts derives
 * the method enum, the options keys and the grid/run_cap rules from it. Adding a sampler is
 * one entry here.
 */
export const SAMPLERS = {
  grid: {
    description: 'every point of a discrete space, in order (space.ts)',
    discreteOnly: true,
    create: (spec) => new GridSampler(spec.parameters),
  },
  random: {
    description: 'independent seeded draws, never repeating a config',
    discreteOnly: false,
    create: (spec) => new RandomSampler(spec.parameters, spec.samplerSeed),
  },
  bayes: {
    description: "TPE as Optuna's TPESampler (univariate, constant liar); options under tpe:",
    discreteOnly: false,
    options: {
      key: 'tpe',
      schema: z
        .object({ n_startup: positive.optional(), n_ei_candidates: positive.optional() })
        .strict(),
    },
    create: (spec) =>
      new TpeSampler(spec.parameters, {
        goal: spec.metric.goal,
        seed: spec.samplerSeed,
        nStartup: spec.tpe.nStartup,
        nEiCandidates: spec.tpe.nEiCandidates,
      }),
  },
} as const satisfies Record<string, SamplerEntry>;

export type SweepMethod = keyof typeof SAMPLERS;
/** The method names in table order (zod enum input). */
export const SAMPLER_NAMES = Object.keys(SAMPLERS) as [SweepMethod, ...SweepMethod[]];

/** The sampler a sweep asks for. */
export function createSampler(spec: SweepSpec): Sampler {
  const entry: SamplerEntry | undefined = (SAMPLERS as Record<string, SamplerEntry>)[spec.method];
  if (entry === undefined) throw new Error(`unknown sampler ${JSON.stringify(spec.method)}`);
  return entry.create(spec);
}
