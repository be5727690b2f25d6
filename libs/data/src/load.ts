/**
 * One entry point for every dataset a user can point at: an MMSA pickle, an MMIM-repo pickle
 * (+ its label CSV), or a folder holding one of them. Text is tokenised with a `vocab.txt`
 * found beside the data (synthetic datasets ship one) or given explicitly.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BertWordPieceTokenizer } from './tokenizer/bert-tokenizer.js';
import { loadOrBuildCached, sourceDigest } from './cache.js';
import { readDataset } from './readers/index.js';
import { DataError, type MsaDataset } from './types.js';

export interface LoadDatasetOptions {
  /** vocab.txt for tokenising raw text; default: one beside the data file, if any. */
  vocab?: string;
  /** Zero NaN/Inf features and count them instead of failing. */
  sanitize?: boolean;
  /** Token positions per sample (default 50). */
  textLength?: number;
  /**
   * Keep the preprocessed splits here (safetensors), keyed by the source's content hash and
   * these options; a changed file or option rebuilds. Off when absent.
   */
  cacheDir?: string;
}

/** File names we look for inside a folder, in order. */
export const DATASET_FILE_NAMES = [
  'unaligned_50.pkl',
  'aligned_50.pkl',
  'unaligned_39.pkl',
  'mosi_data_noalign.pkl',
  'mosei_senti_data_noalign.pkl',
] as const;

export function resolveDatasetFile(target: string): string {
  if (!fs.existsSync(target)) throw new DataError(target, 'no such file or folder');
  if (!fs.statSync(target).isDirectory()) return target;
  for (const name of DATASET_FILE_NAMES) {
    const candidate = path.join(target, name);
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new DataError(
    target,
    `no dataset file in this folder (looked for ${DATASET_FILE_NAMES.join(', ')})`,
  );
}

export async function loadDataset(
  target: string,
  opts: LoadDatasetOptions = {},
): Promise<MsaDataset> {
  const file = resolveDatasetFile(target);
  const vocab = opts.vocab ?? path.join(path.dirname(file), 'vocab.txt');
  const tokenizer = fs.existsSync(vocab) ? await BertWordPieceTokenizer.fromVocabFile(vocab) : null;
  // The file's own token length wins (CH-SIMS uses 39); raw text is tokenised to this one.
  const textLength = opts.textLength ?? 50;
  const common = {
    sanitize: opts.sanitize ?? false,
    ...(opts.textLength === undefined ? {} : { textLength }),
    ...(tokenizer === null
      ? {}
      : { tokenize: (text: string) => tokenizer.encode(text, textLength) }),
  };

  if (!file.endsWith('.pkl'))
    throw new DataError(
      file,
      'unsupported file type (expected a .pkl dataset; .csd sequences are read with readCsdDataset)',
    );
  // The pickle's own keys tell MMSA from MMIM-repo files (file names are often changed).
  const build = (): Promise<MsaDataset> => readDataset(file, common);
  if (opts.cacheDir === undefined) return build();
  const vocabDigest = tokenizer === null ? null : await sourceDigest(vocab);
  const cached = await loadOrBuildCached({
    cacheDir: opts.cacheDir,
    source: file,
    options: { sanitize: common.sanitize, textLength: opts.textLength ?? null, vocab: vocabDigest },
    build,
  });
  return cached.dataset;
}
