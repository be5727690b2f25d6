/**
 * A dataset from CMU-MultimodalSDK computational sequences: a label sequence (e.g.
 * `CMU_MOSI_Opinion_Labels.csd`, `CMU_MOSEI_Labels.csd`), an acoustic and a visual one, and
 * optionally timestamped words. Samples come from the label file:
 *   - an entry keyed `video[k]` with one row is one segment (files written by the SDK's
 *     align/deploy), id `video[k]`;
 *   - any other entry is a video whose row j is segment `video[j]`, with its [start, end).
 * Each acoustic/visual/words file is joined per sample: if it has an entry named like the
 * segment, all of that entry's rows are taken; otherwise the rows of the video's entry whose
 * intervals overlap [start, end). Words drop the SDK's 'sp' pause tokens. The label is the
 * first column (MOSEI's 7-column labels start with sentiment). .csd files carry no
 * train/valid/test split: pass the SDK's standard folds (video ids) as `folds`; videos in no
 * fold are left out and counted. Sequences are padded to the longest in each split.
 */
import { DataError, SPLITS, type MsaDataset, type SplitData, type SplitName } from '../types.js';
import {
  applyLengths,
  checkFinite,
  checkLabels,
  checkSameDims,
  readContext,
  splitData,
  tokenizeTexts,
  type Column,
  type ReadContext,
  type ReadOptions,
} from './common.js';
import { CsdFile } from './csd-file.js';

export interface CsdSources {
  /** Segment labels; their entries and rows define the samples. */
  labels: string;
  acoustic: string;
  visual: string;
  /** Timestamped words; without them every text is empty. */
  words?: string;
}

export interface CsdReadOptions extends ReadOptions {
  /** Video ids of each split (e.g. the SDK's standard_train_fold / valid / test). */
  folds: Partial<Record<SplitName, readonly string[]>>;
  /** Dataset name (default: the labels' root group name). */
  name?: string;
}

interface Sample {
  id: string;
  video: string;
  start: number;
  end: number;
  label: number;
}

export async function readCsdDataset(
  sources: CsdSources,
  options: CsdReadOptions,
): Promise<MsaDataset> {
  const ctx = readContext(sources.labels, options);
  const opened: CsdFile[] = [];
  const open = async (p: string): Promise<CsdFile> => {
    const f = await CsdFile.open(p);
    opened.push(f);
    return f;
  };
  try {
    const labels = await open(sources.labels);
    const acoustic = await open(sources.acoustic);
    const visual = await open(sources.visual);
    const words = sources.words === undefined ? null : await open(sources.words);
    const samples = labelSamples(labels);
    const bySplit = assignFolds(ctx, samples, options.folds);
    const splits = {} as Record<SplitName, SplitData>;
    for (const split of SPLITS) {
      splits[split] = readSplit(ctx, split, bySplit[split], { acoustic, visual, words, labels });
    }
    checkSameDims(
      ctx,
      SPLITS.map((s) => splits[s]).filter((s) => s.size > 0),
    );
    return {
      name: options.name ?? labels.root,
      format: 'csd',
      source: sources.labels,
      splits,
      notes: ctx.notes,
    };
  } finally {
    for (const f of opened) f.close();
  }
}

const SEGMENT_KEY = /\[[^\]]*\]$/;

function labelSamples(labels: CsdFile): Sample[] {
  const out: Sample[] = [];
  for (const entry of labels.keys()) {
    const { rows, dim } = labels.shape(entry);
    const values = labels.features(entry);
    const intervals = labels.intervals(entry);
    const segment = rows === 1 && SEGMENT_KEY.test(entry);
    for (let j = 0; j < rows; j++) {
      out.push({
        id: segment ? entry : `${entry}[${j}]`,
        video: segment ? entry.replace(SEGMENT_KEY, '') : entry,
        start: intervals[2 * j] as number,
        end: intervals[2 * j + 1] as number,
        label: values[j * dim] as number,
      });
    }
  }
  return out;
}

function assignFolds(
  ctx: ReadContext,
  samples: readonly Sample[],
  folds: CsdReadOptions['folds'],
): Record<SplitName, Sample[]> {
  const splitOf = new Map<string, SplitName>();
  for (const split of SPLITS) for (const v of folds[split] ?? []) splitOf.set(v, split);
  if (splitOf.size === 0) {
    throw new DataError(
      ctx.file,
      '.csd files carry no train/valid/test split: pass folds (video ids per split)',
    );
  }
  const out: Record<SplitName, Sample[]> = { train: [], valid: [], test: [] };
  const seen = new Set<string>();
  let dropped = 0;
  for (const s of samples) {
    const split = splitOf.get(s.video);
    seen.add(s.video);
    if (split === undefined) dropped++;
    else out[split].push(s);
  }
  if (dropped > 0)
    ctx.notes.warnings.push(`${dropped} segments of videos in no fold were left out`);
  const missing = [...splitOf.keys()].filter((v) => !seen.has(v));
  if (missing.length > 0) {
    ctx.notes.warnings.push(
      `${missing.length} fold videos have no labels: ${missing.slice(0, 5).join(', ')}`,
    );
  }
  return out;
}

interface Files {
  labels: CsdFile;
  acoustic: CsdFile;
  visual: CsdFile;
  words: CsdFile | null;
}

/** The entry of `file` a sample reads, and whether it is the segment's own (all rows taken). */
function entryOf(file: CsdFile, s: Sample): { entry: string; whole: boolean } | null {
  if (file.has(s.id)) return { entry: s.id, whole: true };
  if (file.has(s.video)) return { entry: s.video, whole: false };
  return null;
}

/** Row indices a sample takes from an entry. */
function rowsOf(intervals: Float64Array, s: Sample, whole: boolean): number[] {
  const out: number[] = [];
  for (let r = 0; r < intervals.length / 2; r++) {
    if (
      whole ||
      ((intervals[2 * r] as number) < s.end && (intervals[2 * r + 1] as number) > s.start)
    )
      out.push(r);
  }
  return out;
}

/** Per-entry cache: consecutive samples come from the same video. */
function cached<T>(load: (entry: string) => T): (entry: string) => T {
  let key: string | null = null;
  let value: T | undefined;
  return (entry) => {
    if (key !== entry) {
      value = load(entry);
      key = entry;
    }
    return value as T;
  };
}

function readModality(
  ctx: ReadContext,
  split: SplitName,
  samples: readonly Sample[],
  file: CsdFile,
  field: string,
): { column: Column; lengths: Int32Array } {
  const entries = samples.map((s, i) => {
    const e = entryOf(file, s);
    if (!e)
      throw new DataError(file.path, `has no entry '${s.id}' or '${s.video}'`, {
        split,
        index: i,
        field: s.id,
      });
    return e;
  });
  const intervals = cached((e) => file.intervals(e));
  const picks = samples.map((s, i) => {
    const e = entries[i] as { entry: string; whole: boolean };
    return rowsOf(intervals(e.entry), s, e.whole);
  });
  const lengths = Int32Array.from(picks, (p) => p.length);
  const steps = lengths.reduce((m, x) => Math.max(m, x), 1);
  // The width of the file's first entry is the reference every other entry must match.
  const first = file.keys()[0];
  const dim = first === undefined ? 0 : file.shape(first).dim;
  const data = new Float32Array(samples.length * steps * dim);
  const features = cached((e) => ({ shape: file.shape(e), values: file.features(e) }));
  samples.forEach((_, i) => {
    const { entry } = entries[i] as { entry: string };
    const { shape, values } = features(entry);
    if (shape.dim !== dim) {
      throw new DataError(file.path, `features are ${shape.dim}-wide, other entries ${dim}-wide`, {
        split,
        index: i,
        field: `${entry}/features`,
      });
    }
    (picks[i] as number[]).forEach((r, t) => {
      data.set(values.subarray(r * dim, (r + 1) * dim), (i * steps + t) * dim);
    });
  });
  return { column: { data, steps, dim, field }, lengths };
}

function readSplit(
  ctx: ReadContext,
  split: SplitName,
  samples: readonly Sample[],
  files: Files,
): SplitData {
  const labels = Float32Array.from(samples, (s) => s.label);
  checkLabels(ctx, split, labels, files.labels.root);
  const a = readModality(ctx, split, samples, files.acoustic, files.acoustic.root);
  const v = readModality(ctx, split, samples, files.visual, files.visual.root);
  for (const m of [a, v]) {
    applyLengths(ctx, split, m.column, m.lengths, m.column.field);
    checkFinite(ctx, split, m.column);
  }
  const texts = files.words ? wordTexts(files.words, samples) : samples.map(() => '');
  return splitData(ctx, split, {
    ids: samples.map((s) => s.id),
    texts,
    tokens: tokenizeTexts(ctx, split, texts, 'words'),
    visual: v.column,
    visualLengths: v.lengths,
    acoustic: a.column,
    acousticLengths: a.lengths,
    labels,
  });
}

/** The words overlapping each segment, without the SDK's 'sp' (pause) tokens. */
function wordTexts(words: CsdFile, samples: readonly Sample[]): string[] {
  const load = cached((e) => ({ list: words.words(e), intervals: words.intervals(e) }));
  return samples.map((s) => {
    const e = entryOf(words, s);
    if (!e) return '';
    const w = load(e.entry);
    return rowsOf(w.intervals, s, e.whole)
      .map((r) => w.list[r] ?? '')
      .filter((x) => x !== 'sp' && x.length > 0)
      .join(' ');
  });
}
