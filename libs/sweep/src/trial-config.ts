/**
 * The trainer config of one trial: the sweep's fixed `trainer` block, then the sampled
 * parameters (dotted keys expanded), then the seed. The result feeds @mmim/trainer's
 * `buildTrainerConfig({ preset, overrides })`, which applies defaults and validates it.
 */
import type { SweepSpec } from './sweep-config.js';
import { expandDotted } from './trainer-keys.js';

export interface TrialTrainerConfig {
  preset?: string;
  overrides: Record<string, unknown>;
}

export function trialTrainerConfig(
  spec: Pick<SweepSpec, 'trainer'>,
  params: Record<string, unknown>,
  seed: number,
): TrialTrainerConfig {
  const { preset, ...fixed } = spec.trainer;
  const swept = expandDotted(params);
  const overrides: Record<string, unknown> = { ...fixed, ...swept, seed };
  // Nested groups (text_encoder) merge key by key: a swept text_encoder.freeze keeps a fixed
  // text_encoder.micro_batch.
  for (const [key, value] of Object.entries(swept)) {
    const base = fixed[key];
    if (isPlainObject(base) && isPlainObject(value)) overrides[key] = { ...base, ...value };
  }
  return typeof preset === 'string' ? { preset, overrides } : { overrides };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
