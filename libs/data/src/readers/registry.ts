/**
 * The dataset readers, in one table. `loadDataset` and `mmim data inspect` ask every reader how
 * sure it is that it reads a path (`detect`) and use the surest; adding a format is one entry
 * in DATASET_READERS. `detect` looks only at names and a few bytes: it must stay cheap on a
 * multi-GB file, and the chosen reader's `read` reports what is actually wrong.
 */
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import { DataError, SPLITS, type MsaDataset, type SplitName } from '../types.js';
import { readCsdDataset, type CsdSources } from './csd.js';
import { readDataset } from './index.js';
import type { MmimReadOptions } from './mmim.js';

/** Every reader's options: the common ones plus those a format needs (ignored by the others). */
export interface DatasetReadOptions extends MmimReadOptions {
  /** .csd: video ids per split; default: the folder's folds.json. */
  folds?: Partial<Record<SplitName, readonly string[]>>;
}

export interface DatasetReader {
  /** Shown in errors and `inspect`; the MsaDataset's `format` is the reader's own. */
  readonly name: string;
  readonly description: string;
  /** 0: not this format; 1: certain. Cheap: names and a few header bytes only. */
  detect(target: string): number;
  read(target: string, options: DatasetReadOptions): Promise<MsaDataset>;
}

function firstBytes(file: string, n: number): Uint8Array {
  const out = new Uint8Array(n);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, out, 0, n, 0);
  } finally {
    closeSync(fd);
  }
  return out;
}

function isFile(target: string): boolean {
  try {
    return statSync(target).isFile();
  } catch {
    return false;
  }
}

function isDir(target: string): boolean {
  try {
    return statSync(target).isDirectory();
  } catch {
    return false;
  }
}

/** MMSA and MMIM-repo pickles: which of the two is told from the pickle's keys when read. */
export const pickleReader: DatasetReader = {
  name: 'pickle',
  description: 'an MMSA pickle or an MMIM-repo pickle (+ its label CSV), told apart by its keys',
  detect(target) {
    if (!isFile(target)) return 0;
    // Protocol 2+ pickles start with PROTO (0x80); the name alone is a weaker hint.
    if (firstBytes(target, 1)[0] === 0x80) return 1;
    return target.toLowerCase().endsWith('.pkl') ? 0.5 : 0;
  },
  read: (target, options) => readDataset(target, options),
};

/** The folds file a .csd folder carries: {train: [video ids], valid: [...], test: [...]}. */
export const CSD_FOLDS_FILE = 'folds.json';

/** Which sequence a .csd file is, from its name (the SDK names files after their features). */
const CSD_ROLES: readonly { role: keyof CsdSources; pattern: RegExp }[] = [
  { role: 'labels', pattern: /label/i },
  { role: 'words', pattern: /word/i },
  { role: 'acoustic', pattern: /covarep|opensmile|acoustic|audio/i },
  { role: 'visual', pattern: /facet|openface|visual|vision/i },
];

function csdFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.toLowerCase().endsWith('.csd'))
    .sort();
}

/** The folder's label/acoustic/visual(/words) files; a DataError names what is missing or doubled. */
export function csdFolderSources(dir: string): CsdSources {
  const files = csdFiles(dir);
  const found: Partial<Record<keyof CsdSources, string[]>> = {};
  for (const f of files) {
    const match = CSD_ROLES.find((r) => r.pattern.test(f));
    if (match !== undefined) (found[match.role] ??= []).push(f);
  }
  for (const role of ['labels', 'acoustic', 'visual', 'words'] as const) {
    const hits = found[role] ?? [];
    if (hits.length > 1)
      throw new DataError(dir, `more than one ${role} .csd file (${hits.join(', ')})`);
    if (hits.length === 0 && role !== 'words')
      throw new DataError(
        dir,
        `no ${role} .csd file among ${files.join(', ') || 'none'} (names matching ${
          CSD_ROLES.find((r) => r.role === role)?.pattern.source
        })`,
      );
  }
  const at = (role: keyof CsdSources): string | undefined => {
    const f = found[role]?.[0];
    return f === undefined ? undefined : path.join(dir, f);
  };
  return {
    labels: at('labels') as string,
    acoustic: at('acoustic') as string,
    visual: at('visual') as string,
    ...(at('words') === undefined ? {} : { words: at('words') as string }),
  };
}

/** The folder's folds.json, checked: each split a list of strings. */
export function readCsdFolds(dir: string): Record<SplitName, string[]> {
  const file = path.join(dir, CSD_FOLDS_FILE);
  if (!existsSync(file))
    throw new DataError(
      dir,
      `.csd files carry no train/valid/test split: add ${CSD_FOLDS_FILE} ({"train": [video ids], "valid": [...], "test": [...]}) or pass folds`,
    );
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new DataError(file, `not valid JSON: ${(err as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new DataError(file, 'must be an object {train, valid, test} of video id lists');
  const out = { train: [], valid: [], test: [] } as Record<SplitName, string[]>;
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!(SPLITS as readonly string[]).includes(key))
      throw new DataError(
        file,
        `unknown split ${JSON.stringify(key)} (allowed: ${SPLITS.join(', ')})`,
      );
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
      throw new DataError(file, `${key} must be a list of video id strings`);
    out[key as SplitName] = value as string[];
  }
  return out;
}

/** A folder of CMU-MultimodalSDK computational sequences (+ folds.json). */
export const csdFolderReader: DatasetReader = {
  name: 'csd-folder',
  description:
    'a folder of CMU-MultimodalSDK .csd files (labels, acoustic, visual, optional words) + folds.json',
  detect(target) {
    if (!isDir(target)) return 0;
    const files = csdFiles(target);
    if (files.length === 0) return 0;
    // .csd files without folds are still this format: read() says what is missing.
    return existsSync(path.join(target, CSD_FOLDS_FILE)) ? 1 : 0.5;
  },
  read(target, options) {
    const sources = csdFolderSources(target);
    const folds = options.folds ?? readCsdFolds(target);
    return readCsdDataset(sources, { ...options, folds });
  },
};

/**
 * THE reader table, in order of preference on equal confidence. Formats the MsaDataset names:
 * DatasetFormat ('mmsa-pickle', 'mmim-pickle', 'csd').
 */
export const DATASET_READERS: readonly DatasetReader[] = [pickleReader, csdFolderReader];

/** The reader surest of `target`; a DataError listing the readers when none is. */
export function pickReader(
  target: string,
  readers: readonly DatasetReader[] = DATASET_READERS,
): DatasetReader {
  if (!existsSync(target)) throw new DataError(target, 'no such file or folder');
  let best: DatasetReader | null = null;
  let bestScore = 0;
  for (const reader of readers) {
    const score = reader.detect(target);
    if (score > bestScore) {
      best = reader;
      bestScore = score;
    }
  }
  if (best === null)
    throw new DataError(
      target,
      `no reader for this ${isDir(target) ? 'folder' : 'file'} (tried: ${readers
        .map((r) => `${r.name}: ${r.description}`)
        .join('; ')})`,
    );
  return best;
}

/** Read `target` with the reader surest of it. */
export function readWithRegistry(
  target: string,
  options: DatasetReadOptions = {},
): Promise<MsaDataset> {
  return pickReader(target).read(target, options);
}
