/**
 * The search space: one `Distribution` per swept parameter, draws from it, the grid of a fully
 * discrete space, and the stable key of a sampled config.
 *
 * Grid order (documented, relied on by `gridPoint`): parameter names sorted by code unit
 * (`Object.keys(...).sort()`), then a mixed-radix odometer in which the LAST name varies
 * fastest (like Python's itertools.product over the sorted names). Each parameter's values are
 * in their natural order: `values` as written, int_uniform ascending, q_uniform ascending.
 */
import { createHash } from 'node:crypto';
import { standardNormal, type Rng } from './rng.js';

/** A categorical value: any JSON scalar. */
export type Scalar = string | number | boolean | null;

export type Distribution =
  | { kind: 'categorical'; values: Scalar[] }
  | { kind: 'constant'; value: Scalar }
  | { kind: 'uniform'; min: number; max: number }
  /** Integers min..max, both included. */
  | { kind: 'int_uniform'; min: number; max: number }
  /** exp(U(log min, log max)); min > 0. */
  | { kind: 'log_uniform_values'; min: number; max: number }
  /** min, min + q, min + 2q, ... up to max, each equally likely (Optuna's stepped float). */
  | { kind: 'q_uniform'; min: number; max: number; q: number }
  | { kind: 'normal'; mu: number; sigma: number };

export type DistributionKind = Distribution['kind'];

/** The kinds with a finite list of values (the only ones a grid can use). */
export function isDiscrete(dist: Distribution): boolean {
  return (
    dist.kind === 'categorical' ||
    dist.kind === 'constant' ||
    dist.kind === 'int_uniform' ||
    dist.kind === 'q_uniform'
  );
}

/** Remove binary-float fuzz from min + k*q (0.1 + 2*0.1 = 0.30000000000000004 -> 0.3). */
function tidy(x: number): number {
  return Number.parseFloat(x.toPrecision(12));
}

/** Number of steps of a stepped range: values are min + k*q for k = 0..count-1. */
export function stepCount(min: number, max: number, q: number): number {
  // The 1e-9 slack keeps max itself when (max - min) / q is an integer up to float error.
  return Math.floor((max - min) / q + 1e-9) + 1;
}

export function stepValue(min: number, q: number, k: number): number {
  return tidy(min + k * q);
}

/** The values of a discrete distribution, in grid order; throws for continuous ones. */
export function discreteValues(dist: Distribution): Scalar[] {
  switch (dist.kind) {
    case 'categorical':
      return [...dist.values];
    case 'constant':
      return [dist.value];
    case 'int_uniform':
      return Array.from({ length: dist.max - dist.min + 1 }, (_, k) => dist.min + k);
    case 'q_uniform':
      return Array.from({ length: stepCount(dist.min, dist.max, dist.q) }, (_, k) =>
        stepValue(dist.min, dist.q, k),
      );
    default:
      throw new Error(`a ${dist.kind} distribution has no finite list of values`);
  }
}

/** One draw. */
export function sampleFrom(dist: Distribution, rng: Rng): Scalar {
  switch (dist.kind) {
    case 'categorical':
      return (
        dist.values[
          Math.min(dist.values.length - 1, Math.floor(rng.next() * dist.values.length))
        ] ?? null
      );
    case 'constant':
      return dist.value;
    case 'uniform':
      return dist.min + rng.next() * (dist.max - dist.min);
    case 'int_uniform':
      return Math.min(dist.max, dist.min + Math.floor(rng.next() * (dist.max - dist.min + 1)));
    case 'log_uniform_values': {
      const lo = Math.log(dist.min);
      const hi = Math.log(dist.max);
      return Math.min(dist.max, Math.max(dist.min, Math.exp(lo + rng.next() * (hi - lo))));
    }
    case 'q_uniform': {
      const n = stepCount(dist.min, dist.max, dist.q);
      return stepValue(dist.min, dist.q, Math.min(n - 1, Math.floor(rng.next() * n)));
    }
    case 'normal':
      return dist.mu + dist.sigma * standardNormal(rng);
  }
}

/** Parameter names in the one order every sampler and the grid use. */
export function parameterNames(parameters: Record<string, Distribution>): string[] {
  return Object.keys(parameters).sort();
}

/** Number of grid points (the product of each parameter's value count). */
export function gridSize(parameters: Record<string, Distribution>): number {
  return parameterNames(parameters).reduce(
    (n, name) => n * discreteValues(parameters[name] as Distribution).length,
    1,
  );
}

/** The index-th grid point (see the header for the order), or null past the end. */
export function gridPoint(
  parameters: Record<string, Distribution>,
  index: number,
): Record<string, Scalar> | null {
  if (!Number.isInteger(index) || index < 0 || index >= gridSize(parameters)) return null;
  const names = parameterNames(parameters);
  const point: Record<string, Scalar> = {};
  let rest = index;
  for (let i = names.length - 1; i >= 0; i--) {
    const name = names[i] as string;
    const values = discreteValues(parameters[name] as Distribution);
    point[name] = values[rest % values.length] ?? null;
    rest = Math.floor(rest / values.length);
  }
  // Return the keys in name order (the loop above filled them last-first).
  return Object.fromEntries(names.map((n) => [n, point[n] ?? null]));
}

/** Every grid point, in order. */
export function gridOf(parameters: Record<string, Distribution>): Record<string, Scalar>[] {
  const size = gridSize(parameters);
  const out: Record<string, Scalar>[] = [];
  for (let i = 0; i < size; i++) out.push(gridPoint(parameters, i) as Record<string, Scalar>);
  return out;
}

/** JSON with object keys sorted at every level, so equal configs give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The stable key of a config: sha1 of its canonical JSON, first 12 hex digits. */
export function configKey(params: Record<string, unknown>): string {
  return createHash('sha1').update(canonicalJson(params)).digest('hex').slice(0, 12);
}
