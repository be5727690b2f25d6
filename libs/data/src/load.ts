/**
 * One entry point for every dataset a user can point at: an MMSA pickle, an MMIM-repo pickle
 * (+ its label CSV), a folder holding one of them, or a folder of .csd sequences (+ folds.json).
 * The reader comes from the reader table (readers/registry.ts). Text is tokenised with a `vocab.txt`
 * found beside the data (synthetic datasets ship one) or given explicitly.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BertWordPieceTokenizer } from './tokenizer/bert-tokenizer.js';
import { loadOrBuildCached, sourceDigest } from './cache.js';
import { csdFolderReader, pickReader, type DatasetReadOptions } from './readers/registry.js';
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
  /** .csd folders: video ids per split (default: the folder's folds.json). */
  folds?: DatasetReadOptions['folds'];
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
  // A folder of .csd sequences is the dataset itself.
  if (csdFolderReader.detect(target) > 0) return target;
  throw new DataError(
    target,
    `no dataset file in this folder (looked for ${DATASET_FILE_NAMES.join(', ')}, or .csd files)`,
  );
}

export async function loadDataset(
  target: string,
  opts: LoadDatasetOptions = {},
): Promise<MsaDataset> {
  const file = resolveDatasetFile(target);
  const dir = fs.statSync(file).isDirectory() ? file : path.dirname(file);
  const vocab = opts.vocab ?? path.join(dir, 'vocab.txt');
  const tokenizer = fs.existsSync(vocab) ? await BertWordPieceTokenizer.fromVocabFile(vocab) : null;
  // The file's own token length wins (CH-SIMS uses 39); raw text is tokenised to this one.
  const textLength = opts.textLength ?? 50;
  const common = {
    sanitize: opts.sanitize ?? false,
    ...(opts.textLength === undefined ? {} : { textLength }),
    ...(tokenizer === null
      ? {}
      : {
          // Only the three arrays: encode() also returns `length`, which the readers' length
          // check would take for a fourth array (and refuse every text).
          tokenize: (text: string) => {
            const { ids, mask, types } = tokenizer.encode(text, textLength);
            return { ids, mask, types };
          },
        }),
  };

  const reader = pickReader(file);
  const options: DatasetReadOptions = {
    ...common,
    ...(opts.folds === undefined ? {} : { folds: opts.folds }),
  };
  const build = (): Promise<MsaDataset> => reader.read(file, options);
  if (opts.cacheDir === undefined) return build();
  const vocabDigest = tokenizer === null ? null : await sourceDigest(vocab);
  const cached = await loadOrBuildCached({
    cacheDir: opts.cacheDir,
    source: file,
    options: {
      sanitize: common.sanitize,
      textLength: opts.textLength ?? null,
      vocab: vocabDigest,
      // Only when given, so the keys of caches written before stay the same.
      ...(opts.folds === undefined ? {} : { folds: opts.folds as Record<string, string[]> }),
    },
    build,
  });
  return cached.dataset;
}
