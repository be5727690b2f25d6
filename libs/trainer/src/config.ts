/**
 * The trainer's configuration: one zod schema (defaults = the authors' public code), presets with
 * the authors' per-dataset values, YAML/JSON files, then overrides. Unknown keys are errors that
 * name the key; so are wrong types and out-of-range values.
 */
import fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export const trainerConfigSchema = z
  .object({
    /** Which dataset's rules apply: on 'mosei' stage 0 uses only the first half of the batches. */
    dataset: z.enum(['mosi', 'mosei', 'sims', 'other']).default('mosi'),
    d_vh: z.number().int().positive().default(16),
    d_ah: z.number().int().positive().default(16),
    d_vout: z.number().int().positive().default(16),
    d_aout: z.number().int().positive().default(16),
    d_prjh: z.number().int().positive().default(128),
    cpc_layers: z.number().int().min(1).default(1),
    add_va: z.boolean().default(false),
    dropout_a: z.number().min(0).max(1).default(0.1),
    dropout_v: z.number().min(0).max(1).default(0.1),
    dropout_prj: z.number().min(0).max(1).default(0.1),
    /** Overrides every dropout rate, BERT's included (parity runs use 0). */
    dropout: z.number().min(0).max(1).nullable().default(null),
    entropy_jitter: z.number().min(0).default(0),
    text_encoder: z
      .object({
        trainable_layers: z.number().int().min(0).nullable().default(null),
        freeze: z.boolean().default(false),
        /** BERT micro-batch size (0 = whole batch); same loss and gradients, less memory. */
        micro_batch: z.number().int().min(0).default(0),
      })
      .strict()
      .default({ trainable_layers: null, freeze: false, micro_batch: 0 }),
    batch_size: z.number().int().positive().default(32),
    lr_main: z.number().positive().default(1e-3),
    lr_bert: z.number().positive().default(5e-5),
    lr_mmilb: z.number().positive().default(1e-3),
    alpha: z.number().min(0).default(0.1),
    beta: z.number().min(0).default(0.1),
    weight_decay_main: z.number().min(0).default(1e-4),
    weight_decay_bert: z.number().min(0).default(1e-4),
    weight_decay_club: z.number().min(0).default(1e-4),
    clip: z.number().positive().default(1.0),
    /** Sum the gradients of this many batches before each optimiser step. */
    update_batch: z.number().int().positive().default(1),
    contrast: z.boolean().default(true),
    num_epochs: z.number().int().positive().default(40),
    /** ReduceLROnPlateau patience on the valid loss. */
    when: z.number().int().min(0).default(20),
    /** Early stopping: epochs without a lower valid loss. */
    patience: z.number().int().positive().default(10),
    seed: z.number().int().min(0).default(1111),
    /** Reproduce the reference's test-peeking model selection (valid improves AND test improves). */
    reference_selection: z.boolean().default(false),
    /** PyTorch 2's zero_grad(set_to_none=True) instead of the reference's zero gradients. */
    zero_grad_to_none: z.boolean().default(false),
    shuffle: z.boolean().default(true),
    /** Cap the batches of each stage (parity and smoke runs). */
    max_batches_per_stage: z.number().int().positive().nullable().default(null),
  })
  .strict();

export type TrainerConfig = z.infer<typeof trainerConfigSchema>;
export type TrainerConfigInput = z.input<typeof trainerConfigSchema>;

/** The authors' per-dataset values (a declare-lab run script; MMIM.md). */
export const PRESETS: Record<'mosi' | 'mosei', TrainerConfigInput> = {
  mosi: {
    dataset: 'mosi',
    batch_size: 32,
    lr_main: 1e-3,
    lr_mmilb: 4e-3,
    alpha: 0.3,
    beta: 0.1,
    d_vh: 32,
    d_ah: 32,
  },
  mosei: {
    dataset: 'mosei',
    batch_size: 64,
    lr_main: 5e-4,
    lr_mmilb: 1e-3,
    alpha: 0.1,
    beta: 0.05,
    d_vh: 64,
    d_ah: 16,
  },
};

export class TrainerConfigError extends Error {
  override readonly name = 'TrainerConfigError';
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const key = i.path.join('.') || '(root)';
      if (i.code === 'unrecognized_keys') {
        const allowed = Object.keys(trainerConfigSchema.shape).join(', ');
        return `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `'${[...i.path, k].join('.')}'`).join(', ')} (allowed: ${allowed})`;
      }
      return `${key}: ${i.message}`;
    })
    .join('; ');
}

/** Validate one merged object; `source` names where it came from in the error. */
export function resolveTrainerConfig(input: unknown, source = 'config'): TrainerConfig {
  const parsed = trainerConfigSchema.safeParse(input);
  if (!parsed.success) throw new TrainerConfigError(`${source}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** Deepest nesting of YAML flow brackets outside quoted strings (a linear scan). */
function flowNestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote !== null) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '{') max = Math.max(max, ++depth);
    else if (c === ']' || c === '}') depth = Math.max(0, depth - 1);
  }
  return max;
}

/** Read a YAML or JSON config file (an object at the top). */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    throw new TrainerConfigError(`${path}: cannot read: ${(err as Error).message}`);
  }
  // The same limits as sweep files, for the same reason (fuzzing: a deeply nested YAML file
  // takes seconds to refuse and a second parse can abort the process).
  if (text.length > 256 * 1024) {
    throw new TrainerConfigError(`${path}: ${text.length} bytes; a config file is at most 256 KiB`);
  }
  if (!path.endsWith('.json') && flowNestingDepth(text) > 64) {
    throw new TrainerConfigError(`${path}: nested more than 64 levels deep`);
  }
  let value: unknown;
  try {
    value = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new TrainerConfigError(
      `${path}: not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
    );
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw new TrainerConfigError(`${path}: the top level must be a mapping of keys`);
  return value as Record<string, unknown>;
}

/**
 * Defaults <- preset <- file <- overrides (later wins; nested `text_encoder` merged key by key).
 * A file may name a preset with `preset: mosi`.
 */
export function buildTrainerConfig(layers: {
  preset?: string;
  file?: string;
  overrides?: Record<string, unknown>;
}): TrainerConfig {
  const fromFile = layers.file === undefined ? {} : readConfigFile(layers.file);
  const { preset: filePreset, ...fileRest } = fromFile as { preset?: unknown } & Record<
    string,
    unknown
  >;
  const presetName = layers.preset ?? (typeof filePreset === 'string' ? filePreset : undefined);
  let preset: TrainerConfigInput = {};
  if (presetName !== undefined) {
    if (!(presetName in PRESETS))
      throw new TrainerConfigError(
        `unknown preset '${presetName}' (allowed: ${Object.keys(PRESETS).join(', ')})`,
      );
    preset = PRESETS[presetName as keyof typeof PRESETS];
  }
  const merged: Record<string, unknown> = { ...preset, ...fileRest, ...layers.overrides };
  const te = [preset.text_encoder, fileRest.text_encoder, layers.overrides?.text_encoder].filter(
    (x) => x !== undefined,
  );
  if (te.length > 0) merged.text_encoder = Object.assign({}, ...te);
  return resolveTrainerConfig(merged, layers.file ?? 'config');
}
