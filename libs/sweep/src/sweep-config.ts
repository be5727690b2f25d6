/**
 * The sweep file: YAML (or an already-parsed object) -> a typed, defaulted `SweepSpec`.
 * Spelling follows W&B sweeps (`method`, `metric`, `parameters` with `values` / `distribution`
 * + bounds, `early_terminate`, `run_cap`); docs/sweeps.md lists every key. Every problem is
 * reported at once in one `SweepConfigError` whose message names each key path.
 */
import {
  DEFAULT_RETENTION,
  METRIC_KEYS,
  type MetricKey,
  type RetentionPolicy,
} from '@mmim/experiments';
import fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  canonicalJson,
  gridSize,
  isDiscrete,
  stepCount,
  stepValue,
  type Distribution,
  type Scalar,
} from './space.js';
import { yamlLimitProblem } from './yaml-guard.js';
import {
  SAMPLERS,
  SAMPLER_NAMES,
  TPE_DEFAULTS,
  type SamplerEntry,
  type SweepMethod,
} from './samplers.js';
import {
  EARLY_STOPPING_NAMES,
  EARLY_STOPPING_RULES,
  type EarlyTerminate,
  type RuleEntry,
} from './schedulers.js';
import { TRAINER_CONFIG_KEYS, expandDotted, flattenKeys } from './trainer-keys.js';

export type Goal = 'minimize' | 'maximize';

export const METRIC_SPLITS = ['valid', 'test'] as const;
/** The metrics a sweep may optimise: every key of the metric table (@mmim/experiments). */
export const METRIC_NAMES: readonly MetricKey[] = METRIC_KEYS;

export interface SyntheticData {
  synthetic: 'mosi' | 'mosei';
  train?: number;
  valid?: number;
  test?: number;
  seed?: number;
}

/** A dataset path (file or folder) or a synthetic dataset. */
export type DataSource = string | SyntheticData;

export type { EarlyTerminate } from './schedulers.js';
export type { SweepMethod } from './samplers.js';

export interface TpeOptions {
  /** Configs drawn at random before TPE takes over (default 5). */
  nStartup: number;
  /** Candidates drawn from l(x) per parameter (default 24). */
  nEiCandidates: number;
}

export interface SweepSpec {
  name: string;
  description: string | null;
  data: DataSource;
  method: SweepMethod;
  metric: { name: string; goal: Goal };
  /** Keyed by trainer config key; nested keys dotted (`text_encoder.freeze`). */
  parameters: Record<string, Distribution>;
  /** Each config runs once per seed; its objective is the mean over seeds. */
  seeds: number[];
  workersPerTrial: number;
  earlyTerminate: EarlyTerminate;
  /** Max configs sampled (grid: at most the grid size, which is the default). */
  runCap: number;
  /** Fixed trainer config applied to every trial (may hold `preset`), as written. */
  trainer: Record<string, unknown>;
  /** Attempts per trial before it is dead-lettered as failed. */
  maxFailures: number;
  samplerSeed: number;
  tpe: TpeOptions;
  /** Which checkpoints the coordinator's GC keeps (`checkpoints:`; defaults DEFAULT_RETENTION). */
  checkpoints: RetentionPolicy;
}

/** One problem: the key path and what is wrong. */
export interface SweepConfigIssue {
  readonly path: string;
  readonly message: string;
}

export class SweepConfigError extends Error {
  override readonly name = 'SweepConfigError';
  constructor(
    readonly issues: readonly SweepConfigIssue[],
    readonly source: string | null = null,
  ) {
    const text = issues
      .map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`))
      .join('; ');
    super(source === null ? text : `${source}: ${text}`);
  }
}

/**
 * What the trainer config schema looks like to this lib (`trainerConfigSchema` from
 * @mmim/trainer fits): parsing `{}` must give the full default config (its keys are the
 * allowed parameter names) and parsing a partial config reports issues by path.
 */
export interface TrainerSchemaLike {
  safeParse(input: unknown): {
    success: boolean;
    data?: unknown;
    error?: {
      issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string; code?: string }>;
    };
  };
}

export interface SweepParseOptions {
  /**
   * The trainer config schema: parameter names come from its keys and every value a parameter
   * can take (bounds, each listed value) is checked against it. Without it, names are checked
   * against TRAINER_CONFIG_KEYS and values are checked by the trainer when a trial starts.
   */
  trainerSchema?: TrainerSchemaLike;
  /** Named first in error messages (e.g. the file path). */
  source?: string;
}

const DISTRIBUTIONS = [
  'categorical',
  'constant',
  'uniform',
  'int_uniform',
  'log_uniform_values',
  'q_uniform',
  'normal',
] as const;

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const finite = z.number().finite();
const int = z.number().int();
const kindField = (kind: string) => ({ distribution: z.literal(kind).optional() });

const paramSchemas = {
  categorical: z.object({ ...kindField('categorical'), values: z.array(scalar).min(1) }).strict(),
  constant: z.object({ ...kindField('constant'), value: scalar }).strict(),
  uniform: z.object({ ...kindField('uniform'), min: finite, max: finite }).strict(),
  int_uniform: z.object({ ...kindField('int_uniform'), min: int, max: int }).strict(),
  log_uniform_values: z
    .object({ ...kindField('log_uniform_values'), min: finite, max: finite })
    .strict(),
  q_uniform: z
    .object({ ...kindField('q_uniform'), min: finite, max: finite, q: finite.positive() })
    .strict(),
  // W&B's defaults for a normal: mu 0, sigma 1.
  normal: z
    .object({ ...kindField('normal'), mu: finite.default(0), sigma: finite.positive().default(1) })
    .strict(),
} as const;

const posInt = int.positive();
const syntheticSchema = z
  .object({
    synthetic: z.enum(['mosi', 'mosei']),
    train: posInt.optional(),
    valid: posInt.optional(),
    test: posInt.optional(),
    seed: int.min(0).optional(),
  })
  .strict();

/** `{tpe: schema.optional()}` and the like: one optional key per sampler with options. */
function samplerOptionKeys(): Record<string, z.ZodOptional> {
  const out: Record<string, z.ZodOptional> = {};
  for (const entry of Object.values(SAMPLERS) as SamplerEntry[])
    if (entry.options !== undefined) out[entry.options.key] = entry.options.schema.optional();
  return out;
}

const topSchema = z
  .object({
    name: z.string().min(1).max(200),
    description: z.string().optional(),
    data: z.unknown(),
    method: z.enum(SAMPLER_NAMES),
    metric: z.object({ name: z.string(), goal: z.enum(['minimize', 'maximize']) }).strict(),
    parameters: z.record(z.string(), z.unknown()),
    seeds: z.array(int.min(0)).min(1).default([1111]),
    workers_per_trial: posInt.default(1),
    early_terminate: z.unknown().optional(),
    run_cap: posInt.optional(),
    trainer: z.record(z.string(), z.unknown()).default({}),
    max_failures: posInt.default(3),
    sampler_seed: int.min(0).default(0),
    checkpoints: z
      .object({
        keep_best_trials: int.min(0).optional(),
        keep_last_per_trial: z.boolean().optional(),
        delete_pruned: z.boolean().optional(),
      })
      .strict()
      .optional(),
    // Each sampler's options key (`tpe:`), from the sampler table.
    ...samplerOptionKeys(),
  })
  .strict();

type Issues = SweepConfigIssue[];

function pathText(path: ReadonlyArray<PropertyKey>): string {
  return path.map((p) => String(p)).join('.');
}

/** zod's wording, with the two messages a sweep author meets most made plainer. */
function friendlier(issue: z.core.$ZodIssue): string {
  const missing = /^Invalid input: expected (\w+), received undefined$/.exec(issue.message);
  if (missing !== null) return `required (${missing[1]})`;
  // The only union in these schemas is a categorical value.
  if (issue.code === 'invalid_union')
    return 'must be a JSON scalar (string, number, boolean or null)';
  return issue.message;
}

/** Run a zod schema; on failure push its issues under `base` and return undefined. */
function check<T>(
  schema: z.ZodType<T>,
  value: unknown,
  base: string[],
  issues: Issues,
): T | undefined {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  pushIssues(parsed.error.issues, base, issues);
  return undefined;
}

function pushIssues(
  found: readonly z.core.$ZodIssue[],
  base: readonly string[],
  issues: Issues,
): void {
  for (const issue of found) {
    const path = pathText([...base, ...issue.path]);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        issues.push({ path: path === '' ? key : `${path}.${key}`, message: 'unknown key' });
    } else {
      issues.push({ path, message: friendlier(issue) });
    }
  }
}

type Top = z.infer<typeof topSchema>;

/**
 * The top-level keys, each checked on its own: a missing `method` must not hide a bad parameter.
 * Returns the keys that parsed (defaults applied) and the names of those that did not.
 */
function checkTop(
  input: Record<string, unknown>,
  issues: Issues,
): { top: Partial<Top>; bad: Set<string> } {
  const shape = topSchema.shape as Record<string, z.ZodType>;
  const top: Record<string, unknown> = {};
  const bad = new Set<string>();
  for (const key of Object.keys(input))
    if (!(key in shape)) issues.push({ path: key, message: 'unknown key' });
  for (const [key, schema] of Object.entries(shape)) {
    const parsed = schema.safeParse(input[key]);
    if (parsed.success) top[key] = parsed.data;
    else {
      bad.add(key);
      pushIssues(parsed.error.issues, [key], issues);
    }
  }
  return { top: top as Partial<Top>, bad };
}

function kindOf(
  name: string,
  raw: Record<string, unknown>,
  issues: Issues,
): Distribution['kind'] | undefined {
  const path = `parameters.${name}`;
  if ('distribution' in raw) {
    const d = raw.distribution;
    if (typeof d === 'string' && (DISTRIBUTIONS as readonly string[]).includes(d))
      return d as Distribution['kind'];
    const hint =
      d === 'log_uniform'
        ? " (W&B's log_uniform takes exponents; use log_uniform_values with the real bounds)"
        : '';
    issues.push({
      path: `${path}.distribution`,
      message: `unknown distribution ${JSON.stringify(d)}${hint} (allowed: ${DISTRIBUTIONS.join(', ')})`,
    });
    return undefined;
  }
  if ('values' in raw) return 'categorical';
  if ('value' in raw) return 'constant';
  if ('min' in raw && 'max' in raw) {
    // W&B infers int_uniform from integer bounds, but YAML reads 0.0 as 0, so integer bounds
    // would silently turn a float range into {0, 1}: only non-integer bounds imply uniform.
    if (!(Number.isInteger(raw.min) && Number.isInteger(raw.max))) return 'uniform';
    issues.push({
      path,
      message:
        'integer bounds need an explicit distribution (YAML reads 0.0 as 0): add distribution: int_uniform or distribution: uniform',
    });
    return undefined;
  }
  issues.push({
    path,
    message: 'give `values: [...]`, `value: x`, `min`/`max`, or `distribution:` with its bounds',
  });
  return undefined;
}

/** One parameter's distribution, or undefined after pushing its issues. */
function parseParameter(name: string, raw: unknown, issues: Issues): Distribution | undefined {
  const path = `parameters.${name}`;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    issues.push({
      path,
      message: 'must be a mapping such as {values: [...]} or {distribution: uniform, min, max}',
    });
    return undefined;
  }
  const r = raw as Record<string, unknown>;
  const kind = kindOf(name, r, issues);
  if (kind === undefined) return undefined;
  const before = issues.length;
  const bad = (message: string) => issues.push({ path, message });
  switch (kind) {
    case 'categorical': {
      const p = check(paramSchemas.categorical, r, ['parameters', name], issues);
      if (p === undefined) return undefined;
      const seen = new Set<string>();
      for (const v of p.values) {
        const key = canonicalJson(v);
        if (seen.has(key)) bad(`values repeat ${key}`);
        seen.add(key);
      }
      return issues.length === before ? { kind, values: p.values } : undefined;
    }
    case 'constant': {
      const p = check(paramSchemas.constant, r, ['parameters', name], issues);
      return p === undefined ? undefined : { kind, value: p.value };
    }
    case 'uniform':
    case 'int_uniform':
    case 'log_uniform_values': {
      const p = check(paramSchemas[kind], r, ['parameters', name], issues);
      if (p === undefined) return undefined;
      if (!(p.min < p.max)) bad(`min must be < max (got ${p.min} >= ${p.max})`);
      if (kind === 'log_uniform_values' && !(p.min > 0))
        bad(`min must be > 0 for log_uniform_values (got ${p.min})`);
      return issues.length === before ? { kind, min: p.min, max: p.max } : undefined;
    }
    case 'q_uniform': {
      const p = check(paramSchemas.q_uniform, r, ['parameters', name], issues);
      if (p === undefined) return undefined;
      if (!(p.min < p.max)) bad(`min must be < max (got ${p.min} >= ${p.max})`);
      return issues.length === before ? { kind, min: p.min, max: p.max, q: p.q } : undefined;
    }
    case 'normal': {
      const p = check(paramSchemas.normal, r, ['parameters', name], issues);
      return p === undefined ? undefined : { kind, mu: p.mu, sigma: p.sigma };
    }
  }
}

function parseData(raw: unknown, issues: Issues): DataSource | undefined {
  if (typeof raw === 'string' && raw.length > 0) return raw;
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw))
    return check(syntheticSchema, raw, ['data'], issues);
  issues.push({
    path: 'data',
    message: 'must be a dataset path or {synthetic: mosi|mosei, train?, valid?, test?, seed?}',
  });
  return undefined;
}

function parseEarlyTerminate(
  raw: unknown,
  maxEpochs: number | null,
  issues: Issues,
): EarlyTerminate | undefined {
  if (raw === undefined || raw === null || raw === 'none') return { type: 'none' };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    issues.push({
      path: 'early_terminate',
      message: `must be {type: ${[...EARLY_STOPPING_NAMES].sort().join('|')}, ...} or none`,
    });
    return undefined;
  }
  const type = (raw as Record<string, unknown>).type;
  const entry =
    typeof type === 'string' && Object.hasOwn(EARLY_STOPPING_RULES, type)
      ? (EARLY_STOPPING_RULES[type as keyof typeof EARLY_STOPPING_RULES] as RuleEntry<
          z.ZodType,
          EarlyTerminate
        >)
      : undefined;
  if (entry !== undefined) {
    const p = check(entry.schema, raw, ['early_terminate'], issues);
    if (p === undefined) return undefined;
    const settled = entry.settings(p, { maxEpochs });
    if ('issue' in settled) {
      issues.push(settled.issue);
      return undefined;
    }
    return settled;
  }
  const hint =
    type === 'hyperband' ? " (W&B's hyperband: use type: asha with min_epochs and eta)" : '';
  issues.push({
    path: 'early_terminate.type',
    message: `unknown type ${JSON.stringify(type)}${hint} (allowed: ${[...EARLY_STOPPING_NAMES].sort().join(', ')})`,
  });
  return undefined;
}

/** The values to try against the trainer schema for one distribution (bounds and lists). */
function probeValues(dist: Distribution): Scalar[] {
  switch (dist.kind) {
    case 'categorical':
      return dist.values;
    case 'constant':
      return [dist.value];
    case 'int_uniform':
      return [dist.min, dist.max];
    case 'q_uniform': {
      // The first, second and last steps: a fractional q on an integer key fails the second.
      const n = stepCount(dist.min, dist.max, dist.q);
      return [0, Math.min(1, n - 1), n - 1].map((k) => stepValue(dist.min, dist.q, k));
    }
    case 'uniform':
    case 'log_uniform_values':
      // An interior, non-integer point catches an integer key swept with a float distribution.
      return [dist.min, dist.max, dist.min + (dist.max - dist.min) * 0.5377];
    case 'normal':
      return [dist.mu];
  }
}

/** Why `value` is not valid for trainer key `key`, or null. */
function trainerValueProblem(
  schema: TrainerSchemaLike,
  key: string,
  value: unknown,
): string | null {
  const parsed = schema.safeParse(expandDotted({ [key]: value }));
  if (parsed.success) return null;
  const issue =
    parsed.error?.issues.find((i) => pathText(i.path) === key) ?? parsed.error?.issues[0];
  return issue === undefined ? 'rejected by the trainer config' : issue.message;
}

function knownKeysOf(schema: TrainerSchemaLike | undefined): readonly string[] {
  if (schema === undefined) return TRAINER_CONFIG_KEYS;
  const defaults = schema.safeParse({});
  if (!defaults.success || defaults.data === null || typeof defaults.data !== 'object')
    throw new Error('trainerSchema must parse {} into the full default config');
  return flattenKeys(defaults.data as Record<string, unknown>);
}

/** Validate a sweep object (the parsed YAML/JSON) into a `SweepSpec`; throws SweepConfigError. */
export function parseSweepSpec(input: unknown, options: SweepParseOptions = {}): SweepSpec {
  const source = options.source ?? null;
  const issues: Issues = [];
  if (input === null || typeof input !== 'object' || Array.isArray(input))
    throw new SweepConfigError(
      [{ path: '', message: 'the top level must be a mapping of keys' }],
      source,
    );
  const { top, bad } = checkTop(input as Record<string, unknown>, issues);

  const known = knownKeysOf(options.trainerSchema);
  const knownSet = new Set(known);
  const allowed = known.filter((k) => k !== 'seed').join(', ');
  const data = parseData(top.data, issues);

  const metricMatch = /^(valid|test)\.(\w+)$/.exec(top.metric?.name ?? '');
  const knownMetric = (METRIC_NAMES as readonly string[]).includes(metricMatch?.[2] ?? '');
  if (top.metric !== undefined && !knownMetric)
    issues.push({
      path: 'metric.name',
      message: `must be valid.<m> or test.<m> with m one of ${METRIC_NAMES.join(', ')} (got ${JSON.stringify(top.metric?.name)})`,
    });

  // The fixed trainer block: known keys only; `preset` names one of the trainer's presets.
  const { preset, ...fixed } = top.trainer ?? {};
  if (preset !== undefined && typeof preset !== 'string')
    issues.push({
      path: 'trainer.preset',
      message: `must be a preset name (got ${JSON.stringify(preset)})`,
    });
  const fixedKeys = flattenKeys(fixed);
  for (const key of fixedKeys) {
    if (key === 'seed')
      issues.push({ path: 'trainer.seed', message: 'list the seeds under `seeds:` instead' });
    else if (!knownSet.has(key))
      issues.push({
        path: `trainer.${key}`,
        message: `unknown trainer config key '${key}' (allowed: ${allowed})`,
      });
  }
  if (options.trainerSchema !== undefined && top.trainer !== undefined) {
    const parsed = options.trainerSchema.safeParse(fixed);
    for (const issue of parsed.success ? [] : (parsed.error?.issues ?? [])) {
      const key = pathText(issue.path);
      if (issue.code === 'unrecognized_keys') continue; // reported above, one line per key
      issues.push({ path: `trainer.${key}`, message: issue.message });
    }
  }

  const parameters: Record<string, Distribution> = {};
  if (top.parameters !== undefined && Object.keys(top.parameters).length === 0)
    issues.push({ path: 'parameters', message: 'name at least one parameter to sweep' });
  for (const [name, raw] of Object.entries(top.parameters ?? {})) {
    const path = `parameters.${name}`;
    if (name === 'seed') {
      issues.push({ path, message: 'the seed is not sampled: list the seeds under `seeds:`' });
      continue;
    }
    if (!knownSet.has(name)) {
      issues.push({ path, message: `unknown trainer config key '${name}' (allowed: ${allowed})` });
      continue;
    }
    if (fixedKeys.includes(name)) {
      issues.push({ path, message: `also fixed as trainer.${name}; keep one of them` });
      continue;
    }
    const dist = parseParameter(name, raw, issues);
    if (dist === undefined) continue;
    if (options.trainerSchema !== undefined) {
      for (const value of probeValues(dist)) {
        const problem = trainerValueProblem(options.trainerSchema, name, value);
        if (problem !== null) {
          issues.push({
            path,
            message: `value ${JSON.stringify(value)} (from ${dist.kind}) is not a valid ${name}: ${problem}`,
          });
          break;
        }
      }
    }
    parameters[name] = dist;
  }

  const seeds = top.seeds ?? [];
  if (new Set(seeds).size !== seeds.length)
    issues.push({ path: 'seeds', message: `seeds repeat (got [${seeds.join(', ')}])` });

  const sampler: SamplerEntry | undefined =
    top.method === undefined ? undefined : SAMPLERS[top.method];
  if (sampler?.discreteOnly === true) {
    for (const [name, dist] of Object.entries(parameters))
      if (!isDiscrete(dist))
        issues.push({
          path: `parameters.${name}`,
          message: `method ${top.method} needs discrete parameters (values, value, int_uniform or q_uniform); ${name} is ${dist.kind}`,
        });
  } else if (sampler !== undefined && top.run_cap === undefined && !bad.has('run_cap')) {
    issues.push({
      path: 'run_cap',
      message: `required for method ${top.method} (the number of configs to sample)`,
    });
  }
  // A sampler's options key only goes with that sampler.
  for (const [name, entry] of Object.entries(SAMPLERS) as [SweepMethod, SamplerEntry][]) {
    const key = entry.options?.key;
    if (key === undefined || top.method === undefined || top.method === name) continue;
    if ((top as Record<string, unknown>)[key] !== undefined)
      issues.push({
        path: key,
        message: `only applies to method ${name} (method is ${top.method})`,
      });
  }

  const fixedEpochs = (fixed as { num_epochs?: unknown }).num_epochs;
  const earlyTerminate = parseEarlyTerminate(
    top.early_terminate,
    typeof fixedEpochs === 'number' ? fixedEpochs : null,
    issues,
  );

  if (issues.length > 0 || bad.size > 0 || data === undefined || earlyTerminate === undefined)
    throw new SweepConfigError(issues, source);
  return specOf(top as Top, data, parameters, earlyTerminate);
}

/** The spec of a sweep whose every key parsed. */
function specOf(
  top: Top,
  data: DataSource,
  parameters: Record<string, Distribution>,
  earlyTerminate: EarlyTerminate,
): SweepSpec {
  const size = SAMPLERS[top.method].discreteOnly ? gridSize(parameters) : Number.POSITIVE_INFINITY;
  const tpe = (top as { tpe?: { n_startup?: number; n_ei_candidates?: number } }).tpe;
  return {
    name: top.name,
    description: top.description ?? null,
    data,
    method: top.method,
    metric: top.metric,
    parameters,
    seeds: top.seeds,
    workersPerTrial: top.workers_per_trial,
    earlyTerminate,
    runCap: Math.min(top.run_cap ?? size, size),
    trainer: top.trainer,
    maxFailures: top.max_failures,
    samplerSeed: top.sampler_seed,
    tpe: {
      nStartup: tpe?.n_startup ?? TPE_DEFAULTS.nStartup,
      nEiCandidates: tpe?.n_ei_candidates ?? TPE_DEFAULTS.nEiCandidates,
    },
    checkpoints: {
      keepBestTrials: top.checkpoints?.keep_best_trials ?? DEFAULT_RETENTION.keepBestTrials,
      keepLastPerTrial: top.checkpoints?.keep_last_per_trial ?? DEFAULT_RETENTION.keepLastPerTrial,
      deletePruned: top.checkpoints?.delete_pruned ?? DEFAULT_RETENTION.deletePruned,
    },
  };
}

/** Parse sweep YAML text (JSON is YAML too). */
export function parseSweepYaml(text: string, options: SweepParseOptions = {}): SweepSpec {
  const tooBig = yamlLimitProblem(text);
  if (tooBig !== null) {
    throw new SweepConfigError(
      [{ path: '', message: `the sweep file ${tooBig}` }],
      options.source ?? null,
    );
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    throw new SweepConfigError(
      [{ path: '', message: `not valid YAML: ${(err as Error).message}` }],
      options.source ?? null,
    );
  }
  return parseSweepSpec(value, options);
}

/** Read and parse a sweep file; errors name the file. */
export function loadSweepFile(
  path: string,
  options: Omit<SweepParseOptions, 'source'> = {},
): SweepSpec {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    throw new SweepConfigError(
      [{ path: '', message: `cannot read: ${(err as Error).message}` }],
      path,
    );
  }
  return parseSweepYaml(text, { ...options, source: path });
}
