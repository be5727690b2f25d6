/**
 * Synthetic MOSI/MOSEI files in MMSA's layout: `unaligned_50.pkl`, a matching `vocab.txt`, a tiny
 * BERT `config.json` (2 layers, 128 hidden), and `synthetic.json` (this report). Feature rows
 * are generated while the pickle is written, so a full-size MOSEI (~3.5 GB of features) needs
 * memory only for one row at a time plus the per-sample summaries the ceilings use.
 */
import { TINY_BERT } from '@mmim/model';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { NdArray } from '../pickle-writer/ndarray.js';
import { writePickleFile, type PyValue } from '../pickle-writer/pickle-writer.js';
import { BertWordPieceTokenizer } from '../tokenizer/bert-tokenizer.js';
import { SPLITS, type MsaDataset, type SplitData, type SplitName } from '../types.js';
import { computeCeilings, type Ceilings, type SplitFeatures } from './ceilings.js';
import { sequenceFeatures } from './estimators.js';
import { acousticRow, planSplit, visualRow, type SampleSpec, type SplitSpec } from './generator.js';
import { syntheticVocabulary } from './lexicon.js';
import { PROFILES, scaledSizes, type SyntheticLike, type SyntheticProfile } from './profiles.js';

export interface SynthesizeOptions {
  like: SyntheticLike;
  /** Split sizes relative to the real dataset's (1 = 1284/229/686 for MOSI); each split >= 1. */
  scale: number;
  seed: number;
}

export interface SynthReport {
  like: SyntheticLike;
  scale: number;
  seed: number;
  out: string;
  files: { pickle: string; vocab: string; config: string; report: string };
  pickleBytes: number;
  sizes: Record<SplitName, number>;
  dims: {
    textLength: number;
    acousticSteps: number;
    acousticDim: number;
    visualSteps: number;
    visualDim: number;
  };
  vocabSize: number;
  /** Label mean/std, and the share of exact zeros, per split. */
  labels: Record<SplitName, { mean: number; std: number; zeroShare: number }>;
  /** Test-split metrics of the oracle and of simple per-modality estimators fitted on train. */
  ceilings: Ceilings;
  seconds: number;
}

/** The tiny BERT the synthetic text is meant for (fields as in a HuggingFace config.json). */
export function tinyBertConfig(vocabSize: number): Record<string, unknown> {
  return {
    architectures: ['BertModel'],
    model_type: 'bert',
    ...TINY_BERT,
    vocab_size: vocabSize,
    initializer_range: 0.02,
  };
}

function annotation(label: number): string {
  return label > 0 ? 'Positive' : label < 0 ? 'Negative' : 'Neutral';
}

function plans(o: SynthesizeOptions): {
  profile: SyntheticProfile;
  specs: Record<SplitName, SplitSpec>;
} {
  const profile = PROFILES[o.like];
  if (!profile) throw new Error(`unknown dataset '${String(o.like)}' (expected mosi or mosei)`);
  if (!Number.isSafeInteger(o.seed)) throw new Error(`seed must be an integer, got ${o.seed}`);
  const sizes = scaledSizes(profile, o.scale);
  const specs = {} as Record<SplitName, SplitSpec>;
  for (const split of SPLITS) specs[split] = planSplit(profile, split, sizes[split], o.seed);
  return { profile, specs };
}

/** (N, 3, L) ids / mask / segment ids as float64, MMSA's `text_bert`. */
function textBert(
  tok: BertWordPieceTokenizer,
  specs: readonly SampleSpec[],
  L: number,
): Float64Array {
  const out = new Float64Array(specs.length * 3 * L);
  specs.forEach((s, i) => {
    const e = tok.encode(s.text, L);
    out.set(e.ids, i * 3 * L);
    out.set(e.mask, i * 3 * L + L);
    out.set(e.types, i * 3 * L + 2 * L);
  });
  return out;
}

function labelStats(specs: readonly SampleSpec[]): {
  mean: number;
  std: number;
  zeroShare: number;
} {
  const n = specs.length;
  const mean = specs.reduce((a, s) => a + s.label, 0) / n;
  const std = Math.sqrt(specs.reduce((a, s) => a + (s.label - mean) ** 2, 0) / n);
  return { mean, std, zeroShare: specs.filter((s) => s.label === 0).length / n };
}

/** Writes the synthetic dataset into `out` (created if needed) and reports what it holds. */
export async function synthesizeDataset(
  opts: SynthesizeOptions & { out: string },
): Promise<SynthReport> {
  const started = performance.now();
  const { profile: p, specs } = plans(opts);
  const vocab = syntheticVocabulary();
  const tok = new BertWordPieceTokenizer(vocab);
  await mkdir(opts.out, { recursive: true });
  const files = {
    pickle: path.join(opts.out, 'unaligned_50.pkl'),
    vocab: path.join(opts.out, 'vocab.txt'),
    config: path.join(opts.out, 'config.json'),
    report: path.join(opts.out, 'synthetic.json'),
  };
  const features = {} as Record<SplitName, SplitFeatures>;
  const root: Record<string, PyValue> = {};
  for (const split of SPLITS) {
    const s = specs[split].samples;
    const f: SplitFeatures = { specs: s, acoustic: [], visual: [] };
    features[split] = f;
    const N = s.length;
    // One reused row buffer per modality: the writer consumes each chunk before the next is made.
    const rows = (
      steps: number,
      dim: number,
      fill: (spec: SampleSpec, i: number, out: Float32Array) => void,
      length: (spec: SampleSpec) => number,
      sink: number[][],
    ) =>
      function* (): Generator<Float32Array> {
        const row = new Float32Array(steps * dim);
        for (let i = 0; i < N; i++) {
          const spec = s[i] as SampleSpec;
          row.fill(0);
          fill(spec, i, row);
          sink.push(sequenceFeatures(row, length(spec), dim));
          yield row;
        }
      };
    root[split] = {
      id: NdArray.strings(s.map((x) => x.id)),
      raw_text: NdArray.strings(s.map((x) => x.text)),
      audio: NdArray.streamed(
        'f4',
        [N, p.acousticSteps, p.acousticDim],
        rows(
          p.acousticSteps,
          p.acousticDim,
          (x, i, o) => acousticRow(p, split, opts.seed, x, i, o),
          (x) => x.acousticLength,
          f.acoustic,
        ),
      ),
      vision: NdArray.streamed(
        'f4',
        [N, p.visualSteps, p.visualDim],
        rows(
          p.visualSteps,
          p.visualDim,
          (x, i, o) => visualRow(p, split, opts.seed, x, i, o),
          (x) => x.visualLength,
          f.visual,
        ),
      ),
      text_bert: NdArray.of('f8', textBert(tok, s, p.textLength), [N, 3, p.textLength]),
      audio_lengths: s.map((x) => BigInt(x.acousticLength)),
      vision_lengths: s.map((x) => BigInt(x.visualLength)),
      annotations: NdArray.strings(s.map((x) => annotation(x.label))),
      classification_labels: NdArray.of(
        'f8',
        Float64Array.from(s, (x) => Math.sign(x.label) + 1),
      ),
      regression_labels: NdArray.of(
        'f4',
        Float32Array.from(s, (x) => x.label),
      ),
    };
  }
  const pickleBytes = writePickleFile(files.pickle, root);
  await writeFile(files.vocab, vocab.join('\n') + '\n');
  await writeFile(files.config, JSON.stringify(tinyBertConfig(vocab.length), null, 2) + '\n');
  const report: SynthReport = {
    like: opts.like,
    scale: opts.scale,
    seed: opts.seed,
    out: opts.out,
    files,
    pickleBytes,
    sizes: {
      train: specs.train.samples.length,
      valid: specs.valid.samples.length,
      test: specs.test.samples.length,
    },
    dims: {
      textLength: p.textLength,
      acousticSteps: p.acousticSteps,
      acousticDim: p.acousticDim,
      visualSteps: p.visualSteps,
      visualDim: p.visualDim,
    },
    vocabSize: vocab.length,
    labels: {
      train: labelStats(specs.train.samples),
      valid: labelStats(specs.valid.samples),
      test: labelStats(specs.test.samples),
    },
    ceilings: computeCeilings(features.train, features.test, p.annotatorNoise),
    seconds: 0,
  };
  report.seconds = (performance.now() - started) / 1000;
  await writeFile(files.report, JSON.stringify(report, null, 2) + '\n');
  return report;
}

/** A synthetic dataset built in memory (no files), with the generator's per-sample specs. */
export interface SyntheticDataset {
  dataset: MsaDataset;
  specs: Record<SplitName, SplitSpec>;
  vocab: string[];
}

export function generateSyntheticDataset(opts: SynthesizeOptions): SyntheticDataset {
  const { profile: p, specs } = plans(opts);
  const vocab = syntheticVocabulary();
  const tok = new BertWordPieceTokenizer(vocab);
  const split = (name: SplitName): SplitData => {
    const s = specs[name].samples;
    const N = s.length;
    const L = p.textLength;
    const data: SplitData = {
      name,
      size: N,
      ids: s.map((x) => x.id),
      texts: s.map((x) => x.text),
      textLength: L,
      bertIds: new Int32Array(N * L),
      bertMask: new Int32Array(N * L),
      bertTypes: new Int32Array(N * L),
      visual: new Float32Array(N * p.visualSteps * p.visualDim),
      visualSteps: p.visualSteps,
      visualDim: p.visualDim,
      visualLengths: Int32Array.from(s, (x) => x.visualLength),
      acoustic: new Float32Array(N * p.acousticSteps * p.acousticDim),
      acousticSteps: p.acousticSteps,
      acousticDim: p.acousticDim,
      acousticLengths: Int32Array.from(s, (x) => x.acousticLength),
      labels: Float32Array.from(s, (x) => x.label),
    };
    const aRow = p.acousticSteps * p.acousticDim;
    const vRow = p.visualSteps * p.visualDim;
    s.forEach((x, i) => {
      const e = tok.encode(x.text, L);
      data.bertIds.set(e.ids, i * L);
      data.bertMask.set(e.mask, i * L);
      data.bertTypes.set(e.types, i * L);
      acousticRow(p, name, opts.seed, x, i, data.acoustic.subarray(i * aRow, (i + 1) * aRow));
      visualRow(p, name, opts.seed, x, i, data.visual.subarray(i * vRow, (i + 1) * vRow));
    });
    return data;
  };
  return {
    dataset: {
      name: `synthetic-${opts.like}`,
      format: 'synthetic',
      source: `synthetic:${opts.like}:scale=${opts.scale}:seed=${opts.seed}`,
      splits: { train: split('train'), valid: split('valid'), test: split('test') },
    },
    specs,
    vocab,
  };
}

/** The ceilings of an in-memory synthetic dataset (as synthesizeDataset reports them). */
export function syntheticCeilings(s: SyntheticDataset, like: SyntheticLike): Ceilings {
  const features = (name: SplitName): SplitFeatures => {
    const d = s.dataset.splits[name];
    const aRow = d.acousticSteps * d.acousticDim;
    const vRow = d.visualSteps * d.visualDim;
    return {
      specs: s.specs[name].samples,
      acoustic: s.specs[name].samples.map((x, i) =>
        sequenceFeatures(
          d.acoustic.subarray(i * aRow, (i + 1) * aRow),
          x.acousticLength,
          d.acousticDim,
        ),
      ),
      visual: s.specs[name].samples.map((x, i) =>
        sequenceFeatures(d.visual.subarray(i * vRow, (i + 1) * vRow), x.visualLength, d.visualDim),
      ),
    };
  };
  return computeCeilings(features('train'), features('test'), PROFILES[like].annotatorNoise);
}
