/**
 * A trial as the coordinator hands it to workers (AssignTrial.config_json): which data, which
 * trainer configuration, which seed. Every rank of a trial prepares the same dataset, BERT
 * config and TrainerConfig from the same spec (synthetic data is generated from its seed, so
 * every rank holds the same rows without sharing files).
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import {
  DataError,
  generateSyntheticDataset,
  loadDataset,
  resolveDatasetFile,
  type MsaDataset,
  type SplitData,
} from '@mmim/data';
import {
  TINY_BERT,
  bertConfigSchema,
  loadHfBert,
  loadMmimWeights,
  readBertConfig,
  type BertConfig,
  type ParamName,
} from '@mmim/model';
import { buildTrainerConfig, TrainerConfigError, type TrainerConfig } from './config.js';
import { DatasetBatches } from './dataset-batches.js';

const syntheticData = z
  .object({
    kind: z.literal('synthetic'),
    dataset: z.enum(['mosi', 'mosei']),
    /** Rows per split (default: the real dataset's sizes scaled by 0.05). */
    train: z.number().int().positive().optional(),
    valid: z.number().int().positive().optional(),
    test: z.number().int().positive().optional(),
    /** The generator's seed (default: the trial's seed). */
    seed: z.number().int().min(0).optional(),
  })
  .strict();

const fileData = z
  .object({
    kind: z.literal('file'),
    /** A dataset file or a folder holding one, readable on every worker (see @mmim/data). */
    path: z.string().min(1),
  })
  .strict();

export const trialSpecSchema = z
  .object({
    trialId: z
      .string()
      .min(1)
      .regex(/^[^{}\s]+$/, 'no braces or white space (it names Redis keys)'),
    /** 1 for the first run of a trial; a retry (after a lost worker) increments it. */
    attempt: z.number().int().positive(),
    /** The trainer's seed (data order, initialisation, dropout masks); overrides trainer.seed. */
    seed: z.number().int().min(0),
    data: z.discriminatedUnion('kind', [syntheticData, fileData]),
    /** TrainerConfigInput: an optional `preset` ('mosi' | 'mosei') plus any trainer keys. */
    trainer: z.record(z.string(), z.unknown()).default({}),
    /**
     * Overrides of the BERT config (e.g. a smaller synthetic BERT for smoke runs); the base is
     * the dataset's config.json when one sits beside the data, else TINY_BERT.
     */
    bert: z.record(z.string(), z.unknown()).optional(),
    /**
     * How ranks exchange gradients: 'fp16' halves the bytes but is NOT exact (the summed
     * gradient's relative error is about 1e-4; docs/param-server.md). Default 'none' (exact).
     */
    exchange: z
      .object({ compression: z.enum(['none', 'fp16']).default('none') })
      .strict()
      .optional(),
    /**
     * Where training starts (`mmim train --workers K` flags), each a path readable on every
     * worker: `bertDir` a HuggingFace BERT folder (config, vocab, weights: `--bert`), `init` MMIM
     * weights (ours or a PyTorch state dict as safetensors: `--init`), `resume` a training
     * checkpoint (`--resume`; a checkpoint of this trial in Redis, from an earlier attempt, wins).
     */
    start: z
      .object({
        bertDir: z.string().min(1).optional(),
        init: z.string().min(1).optional(),
        resume: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type TrialSpec = z.infer<typeof trialSpecSchema>;
export type TrialSpecInput = z.input<typeof trialSpecSchema>;

export class TrialSpecError extends Error {
  override readonly name = 'TrialSpecError';
}

/** Parse and validate AssignTrial.config_json; errors name the offending field. */
export function parseTrialSpec(json: string): TrialSpec {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new TrialSpecError(`trial spec: not valid JSON: ${(err as Error).message}`);
  }
  const parsed = trialSpecSchema.safeParse(value);
  if (!parsed.success) {
    const detail = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    throw new TrialSpecError(`trial spec: ${detail}`);
  }
  return parsed.data;
}

export interface PreparedTrial {
  spec: TrialSpec;
  data: MsaDataset;
  bert: BertConfig;
  config: TrainerConfig;
  batches: DatasetBatches;
  /** Initial weights (`start.bertDir`'s BERT, then `start.init` over it), else undefined. */
  init: Map<ParamName, Float32Array> | undefined;
}

/** Default share of the real split sizes for synthetic trials without explicit sizes. */
const DEFAULT_SYNTHETIC_SCALE = 0.05;

/**
 * The dataset, BERT config, TrainerConfig and batches of a trial: the same on every rank and
 * every attempt for the same spec.
 */
export async function prepareTrial(
  spec: TrialSpec,
  opts: { cacheDir?: string } = {},
): Promise<PreparedTrial> {
  let config: TrainerConfig;
  try {
    const { preset, ...overrides } = spec.trainer;
    if (preset !== undefined && typeof preset !== 'string')
      throw new TrainerConfigError(`preset must be a string, got ${JSON.stringify(preset)}`);
    config = buildTrainerConfig({ preset, overrides: { ...overrides, seed: spec.seed } });
  } catch (err) {
    throw new TrialSpecError(`trial ${spec.trialId}: trainer: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const hf =
    spec.start?.bertDir === undefined
      ? null
      : await startFile(spec.trialId, 'start.bertDir', spec.start.bertDir, loadHfBert);
  const { data, bert: baseBert } =
    spec.data.kind === 'synthetic'
      ? synthetic(spec.data, spec.seed)
      : await fromFile(spec.trialId, spec.data.path, opts.cacheDir, hf?.vocabPath);
  const bertParsed = bertConfigSchema.safeParse({ ...(hf?.config ?? baseBert), ...spec.bert });
  if (!bertParsed.success) {
    throw new TrialSpecError(
      `trial ${spec.trialId}: bert: ${bertParsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const batches = new DatasetBatches(data, {
    batchSize: config.batch_size,
    seed: config.seed,
    shuffle: config.shuffle,
  });
  let init = hf?.state;
  if (spec.start?.init !== undefined) {
    const hints = bertParsed.data;
    const loaded = await startFile(spec.trialId, 'start.init', spec.start.init, (f) =>
      loadMmimWeights(f, hints),
    );
    init = new Map([...(init ?? []), ...loaded.state]);
  }
  return { spec, data, bert: bertParsed.data, config, batches, init };
}

/** Loads a `start` file, naming the trial and the field when it cannot. */
async function startFile<T>(
  trialId: string,
  field: string,
  file: string,
  load: (file: string) => Promise<T>,
): Promise<T> {
  try {
    return await load(file);
  } catch (err) {
    throw new TrialSpecError(`trial ${trialId}: ${field} '${file}': ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function synthetic(
  d: Extract<TrialSpec['data'], { kind: 'synthetic' }>,
  trialSeed: number,
): { data: MsaDataset; bert: BertConfig } {
  const real = { mosi: [1284, 229, 686], mosei: [16326, 1871, 4659] }[d.dataset];
  const want = [d.train, d.valid, d.test];
  // Generate at the smallest scale that covers every requested size, then keep the first rows.
  const scale = Math.max(
    ...want.map((n, i) => (n === undefined ? DEFAULT_SYNTHETIC_SCALE : n / (real[i] ?? 1))),
  );
  const gen = generateSyntheticDataset({
    like: d.dataset,
    scale,
    seed: d.seed ?? trialSeed,
  });
  const s = gen.dataset.splits;
  const data: MsaDataset = {
    ...gen.dataset,
    splits: {
      train: d.train === undefined ? s.train : headRows(s.train, d.train),
      valid: d.valid === undefined ? s.valid : headRows(s.valid, d.valid),
      test: d.test === undefined ? s.test : headRows(s.test, d.test),
    },
  };
  return { data, bert: { ...TINY_BERT, vocab_size: gen.vocab.length } };
}

async function fromFile(
  trialId: string,
  target: string,
  cacheDir: string | undefined,
  vocab: string | undefined,
): Promise<{ data: MsaDataset; bert: BertConfig }> {
  let file: string;
  try {
    file = resolveDatasetFile(target);
  } catch (err) {
    const why = err instanceof DataError ? err.detail : (err as Error).message;
    throw new TrialSpecError(`trial ${trialId}: data.path '${target}': ${why}`, { cause: err });
  }
  const data = await loadDataset(file, {
    ...(cacheDir === undefined ? {} : { cacheDir }),
    ...(vocab === undefined ? {} : { vocab }),
  });
  // Synthetic dataset folders ship their tiny BERT's config.json.
  const beside = path.join(path.dirname(file), 'config.json');
  return { data, bert: fs.existsSync(beside) ? readBertConfig(beside) : TINY_BERT };
}

/** The first `n` rows of a split (all of it when it has fewer). */
export function headRows(split: SplitData, n: number): SplitData {
  const k = Math.min(n, split.size);
  const L = split.textLength;
  const v = split.visualSteps * split.visualDim;
  const a = split.acousticSteps * split.acousticDim;
  return {
    ...split,
    size: k,
    ids: split.ids.slice(0, k),
    texts: split.texts.slice(0, k),
    bertIds: split.bertIds.slice(0, k * L),
    bertMask: split.bertMask.slice(0, k * L),
    bertTypes: split.bertTypes.slice(0, k * L),
    visual: split.visual.slice(0, k * v),
    visualLengths: split.visualLengths.slice(0, k),
    acoustic: split.acoustic.slice(0, k * a),
    acousticLengths: split.acousticLengths.slice(0, k),
    labels: split.labels.slice(0, k),
  };
}
