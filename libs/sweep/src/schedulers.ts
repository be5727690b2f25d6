/**
 * Early-stopping schedulers in Ray Tune's spirit: each epoch result gets 'continue' or 'stop'.
 * The goal is folded into a sign once (`loss = value` when minimising, `-value` when
 * maximising), so every rule below is written as "lower is better".
 *
 * Determinism and restarts: a decision depends only on the (trial, epoch, value) records seen
 * before it, so `restore(records)` replays them and the scheduler then answers exactly as an
 * uninterrupted one would. A repeated (trial, epoch) report (at-least-once delivery) gets the
 * decision it got the first time and changes nothing. A non-finite value continues and is not
 * recorded (Ray: "a result without the metric continues").
 *
 * The table of rules is EARLY_STOPPING_RULES at the end of this file.
 *
 * Trials here are (config, seed) runs: the coordinator reports each seed's run separately, so
 * both rules compare a run against every other run (any config, any seed) at the same epoch.
 */
import { z } from 'zod';
import type { Goal, SweepConfigIssue, SweepSpec } from './sweep-config.js';

export type Decision = 'continue' | 'stop';

export interface EpochValue {
  trialId: string;
  epoch: number;
  value: number;
}

export interface TrialScheduler {
  readonly name: string;
  /** Called when a trial finishes epoch `epoch` (1-based) with objective `value`. */
  onEpoch(trialId: string, epoch: number, value: number): Decision;
  /** Rebuild from every (trial, epoch, value) seen so far, in order, after a restart. */
  restore(records: EpochValue[]): void;
}

/** Shared bookkeeping: the goal's sign, the decision memo for repeated reports, replay. */
abstract class BaseScheduler implements TrialScheduler {
  abstract readonly name: string;
  private readonly sign: number;
  private decided = new Map<string, Decision>();

  constructor(goal: Goal) {
    this.sign = goal === 'minimize' ? 1 : -1;
  }

  onEpoch(trialId: string, epoch: number, value: number): Decision {
    const memoKey = `${trialId}\u0000${epoch}`;
    const previous = this.decided.get(memoKey);
    if (previous !== undefined) return previous;
    const decision = Number.isFinite(value)
      ? this.decide(trialId, epoch, this.sign * value)
      : 'continue';
    this.decided.set(memoKey, decision);
    return decision;
  }

  restore(records: EpochValue[]): void {
    this.decided = new Map();
    this.reset();
    for (const r of records) this.onEpoch(r.trialId, r.epoch, r.value);
  }

  /** `loss`: lower is better. */
  protected abstract decide(trialId: string, epoch: number, loss: number): Decision;
  protected abstract reset(): void;
}

/** Never stops anything (Ray's FIFOScheduler). */
export class NoStopScheduler extends BaseScheduler {
  readonly name = 'none';
  protected decide(): Decision {
    return 'continue';
  }
  protected reset(): void {}
}

/** numpy.percentile with the default linear interpolation; `sorted` ascending, non-empty. */
export function percentile(sorted: number[], p: number): number {
  const pos = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

/**
 * ASHA as Ray Tune's AsyncHyperBandScheduler applies it with one bracket (s = 0), i.e. the
 * stopping form of Li et al., "A System for Massively Parallel Hyperparameter Tuning"
 * (MLSys 2020). Rungs are at minEpochs * eta^k (k = 0, 1, ... while <= maxEpochs when known).
 * When a trial reports epoch t, take the highest rung r <= t it has no value recorded at:
 *   - cutoff = the (1 - 1/eta) quantile (numpy linear interpolation) of the losses recorded at
 *     r BEFORE this one (Ray's `_Bracket.cutoff`, in loss form: the top 1/eta fraction);
 *   - stop when loss > cutoff (strictly worse; ties continue); with nothing recorded at r yet,
 *     continue; then record the loss at r whatever the decision.
 * Ray's exact rule, not "fewer than eta values always continue": the second trial to reach a
 * rung is stopped when it is worse than the first (the quantile of one value is that value).
 * Ray also stops a trial at max_t; here the trainer ends at num_epochs by itself (completed,
 * not pruned), so reaching the last epoch continues.
 */
export class AshaScheduler extends BaseScheduler {
  readonly name = 'asha';
  /** rung epoch -> (trial -> loss recorded there), sorted values kept alongside. */
  private rungs = new Map<number, Map<string, number>>();

  constructor(
    goal: Goal,
    private readonly minEpochs: number,
    private readonly eta: number,
    private readonly maxEpochs: number | null,
  ) {
    super(goal);
    if (!(Number.isInteger(minEpochs) && minEpochs >= 1))
      throw new Error(`ASHA min_epochs must be an integer >= 1 (got ${minEpochs})`);
    if (!(eta > 1)) throw new Error(`ASHA eta must be > 1 (got ${eta})`);
  }

  /** The rung epochs up to `limit` (and maxEpochs), ascending. */
  rungsUpTo(limit: number): number[] {
    const out: number[] = [];
    const cap = Math.min(limit, this.maxEpochs ?? Number.POSITIVE_INFINITY);
    // Rounded like Ray's milestones (min_t * rf**k) compared against integer epochs.
    for (let k = 0; ; k++) {
      const r = this.minEpochs * this.eta ** k;
      if (r > cap + 1e-9) break;
      out.push(r);
    }
    return out;
  }

  protected decide(trialId: string, epoch: number, loss: number): Decision {
    const rungs = this.rungsUpTo(epoch);
    for (let i = rungs.length - 1; i >= 0; i--) {
      const rung = rungs[i] as number;
      let recorded = this.rungs.get(rung);
      if (recorded === undefined) this.rungs.set(rung, (recorded = new Map()));
      if (recorded.has(trialId)) continue;
      let decision: Decision = 'continue';
      if (recorded.size > 0) {
        const cutoff = percentile(
          [...recorded.values()].sort((a, b) => a - b),
          100 / this.eta,
        );
        if (loss > cutoff) decision = 'stop';
      }
      recorded.set(trialId, loss);
      return decision;
    }
    return 'continue';
  }

  protected reset(): void {
    this.rungs = new Map();
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1
    ? (s[mid] as number)
    : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * The median stopping rule of Google Vizier (Golovin et al., KDD 2017): stop a trial at epoch t
 * when its best value so far is strictly worse than the median of the other trials' running
 * averages at t. Variant: Ray Tune's MedianStoppingRule comparison set, i.e. every OTHER trial
 * that has reported epoch t or later (running or finished, not only completed ones as in
 * Vizier); a trial's running average at t is the mean of its values at epochs <= t. No decision
 * before `minEpochs` (Ray's grace period) or while fewer than `warmupTrials` other trials have
 * reached t (Ray's min_samples_required).
 */
export class MedianStoppingScheduler extends BaseScheduler {
  readonly name = 'median';
  /** trial -> epoch -> loss. */
  private history = new Map<string, Map<number, number>>();

  constructor(
    goal: Goal,
    private readonly minEpochs: number,
    private readonly warmupTrials: number,
  ) {
    super(goal);
    if (!(Number.isInteger(minEpochs) && minEpochs >= 1))
      throw new Error(`median min_epochs must be an integer >= 1 (got ${minEpochs})`);
    if (!(Number.isInteger(warmupTrials) && warmupTrials >= 1))
      throw new Error(`median warmup_trials must be an integer >= 1 (got ${warmupTrials})`);
  }

  protected decide(trialId: string, epoch: number, loss: number): Decision {
    let own = this.history.get(trialId);
    if (own === undefined) this.history.set(trialId, (own = new Map()));
    own.set(epoch, loss);
    if (epoch < this.minEpochs) return 'continue';
    const averages: number[] = [];
    for (const [other, values] of this.history) {
      if (other === trialId || Math.max(...values.keys()) < epoch) continue;
      const upTo = [...values].filter(([e]) => e <= epoch).map(([, v]) => v);
      averages.push(upTo.reduce((s, v) => s + v, 0) / upTo.length);
    }
    if (averages.length < this.warmupTrials) return 'continue';
    const best = Math.min(...[...own].filter(([e]) => e <= epoch).map(([, v]) => v));
    return best > median(averages) ? 'stop' : 'continue';
  }

  protected reset(): void {
    this.history = new Map();
  }
}

/** What a rule's options parse to, or the one problem with them (a key path and a message). */
type Settled<T> = T | { issue: SweepConfigIssue };

/** One early-stopping rule: its `early_terminate:` schema, its settings and its scheduler. */
export interface RuleEntry<S extends z.ZodType = z.ZodType, T extends { type: string } = never> {
  /** One line for docs. */
  readonly description: string;
  /** The whole `early_terminate:` object (strict, `type` a literal), with its defaults. */
  readonly schema: S;
  /** The typed settings; `maxEpochs` is the trainer's fixed num_epochs when the sweep sets it. */
  settings(options: z.output<S>, ctx: { maxEpochs: number | null }): Settled<T>;
  create(goal: Goal, settings: T): TrialScheduler;
}

/** Keeps each entry's schema and settings types tied together inside the table. */
function rule<S extends z.ZodType, T extends { type: string }>(
  entry: RuleEntry<S, T>,
): RuleEntry<S, T> {
  return entry;
}

const posInt = z.number().int().positive();
const ashaOptions = z
  .object({
    type: z.literal('asha'),
    min_epochs: posInt.default(1),
    eta: z.number().finite().gt(1).default(3),
    max_epochs: posInt.optional(),
  })
  .strict();
const medianOptions = z
  .object({
    type: z.literal('median'),
    min_epochs: posInt.default(1),
    warmup_trials: z.number().int().min(1).default(3),
  })
  .strict();
const noneOptions = z.object({ type: z.literal('none') }).strict();

/** Rungs at minEpochs * eta^k (<= maxEpochs when known). */
export interface AshaSettings {
  type: 'asha';
  minEpochs: number;
  eta: number;
  maxEpochs: number | null;
}
export interface MedianSettings {
  type: 'median';
  minEpochs: number;
  warmupTrials: number;
}

/**
 * THE early-stopping table: `early_terminate.type` is one of its keys, and sweep-config.ts
 * parses `early_terminate:` with the entry's schema. Adding a rule is one entry here.
 */
export const EARLY_STOPPING_RULES = {
  asha: rule<typeof ashaOptions, AshaSettings>({
    description: "ASHA, one bracket, as Ray Tune's AsyncHyperBandScheduler",
    schema: ashaOptions,
    settings: (p, ctx) => {
      const max = p.max_epochs ?? ctx.maxEpochs;
      if (max !== null && max < p.min_epochs)
        return {
          issue: {
            path: 'early_terminate.min_epochs',
            message: `must be <= the max epochs (got ${p.min_epochs} > ${max})`,
          },
        };
      return { type: 'asha', minEpochs: p.min_epochs, eta: p.eta, maxEpochs: max };
    },
    create: (goal, s) => new AshaScheduler(goal, s.minEpochs, s.eta, s.maxEpochs),
  }),
  median: rule<typeof medianOptions, MedianSettings>({
    description: "the median stopping rule (Vizier), Ray Tune's comparison set",
    schema: medianOptions,
    settings: (p) => ({
      type: 'median',
      minEpochs: p.min_epochs,
      warmupTrials: p.warmup_trials,
    }),
    create: (goal, s) => new MedianStoppingScheduler(goal, s.minEpochs, s.warmupTrials),
  }),
  none: rule<typeof noneOptions, { type: 'none' }>({
    description: 'never stops a trial (the default)',
    schema: noneOptions,
    settings: () => ({ type: 'none' }),
    create: (goal) => new NoStopScheduler(goal),
  }),
};

export type EarlyStoppingType = keyof typeof EARLY_STOPPING_RULES;
/** The rule names in table order. */
export const EARLY_STOPPING_NAMES = Object.keys(EARLY_STOPPING_RULES) as EarlyStoppingType[];

type SettingsOf<E> = E extends RuleEntry<z.ZodType, infer T> ? T : never;
/** A parsed `early_terminate:` (the settings of one table entry). */
export type EarlyTerminate = {
  [K in EarlyStoppingType]: SettingsOf<(typeof EARLY_STOPPING_RULES)[K]>;
}[EarlyStoppingType];

/** The scheduler a sweep asks for; misconfiguration throws here, not later. */
export function createScheduler(spec: SweepSpec): TrialScheduler {
  const et = spec.earlyTerminate;
  const entry = EARLY_STOPPING_RULES[et.type] as RuleEntry<z.ZodType, EarlyTerminate> | undefined;
  if (entry === undefined)
    throw new Error(`unknown early_terminate type ${JSON.stringify(et.type)}`);
  return entry.create(spec.metric.goal, et);
}
