/**
 * The MMIM repo's own inputs: `mosi_data_noalign.pkl` / `mosei_senti_data_noalign.pkl` (from
 * the Multimodal-Transformer release) plus a label CSV with the words. Each split is a dict with
 * `vision` (N, T_v, d_v), `audio` (N, T_a, d_a), `labels` (N, 1, 1) or (N, 1, 7), `id` (N, k).
 *
 * Read exactly as the reference's src/create_dataset.py and src/data_loader.py:
 *   - padding is at the FRONT; a sample's length is T minus the number of rows whose SUM is 0
 *     (`get_length`: a zero row inside a sequence is counted out too), and the sequence is the
 *     LAST `length` rows. We move those rows to the front (our layout pads after the length);
 *   - lengths are computed before NaN handling (a NaN row counts as real), as the reference;
 *   - MOSI: `id[:, 0]` is decoded and split at its last '_' into (video_id, clip_id), then
 *     matched to the CSV's (video_id, str(clip_id)) (first match); MOSEI: sample i of the
 *     concatenated train+valid+test takes CSV row i, by position (the reference does not match
 *     ids for MOSEI). The join is chosen from the file name as the reference does ('mosi'
 *     vs 'mosei' in the path), or by `csvJoin`;
 *   - text is the CSV text, whitespace-normalised (`' '.join(text.split())`), then tokenised;
 *   - label: the first value per sample (MOSEI's 7-column sentiment matrix starts with it);
 *   - lengths of 0 become 1 (the reference does this for vision only; we do it for both, since
 *     an acoustic length of 0 crashes the reference's pack_padded_sequence).
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import {
  toFloat32,
  toStrings,
  type NdArray,
  type PickleFile,
  type PyDict,
} from '../pickle/index.js';
import { DataError, SPLITS, type MsaDataset, type SplitData, type SplitName } from '../types.js';
import {
  checkFinite,
  checkLabels,
  checkRows,
  checkSameDims,
  guessName,
  readContext,
  splitData,
  tokenizeTexts,
  type Column,
  type ReadContext,
  type ReadOptions,
} from './common.js';
import { readLabelCsv, type LabelRow } from './label-csv.js';
import { getArray, located, openPickleFile, splitDicts } from './pickle-access.js';

export interface MmimReadOptions extends ReadOptions {
  /** The label CSV; default: `MOSI-label.csv` / `MOSEI-label.csv` (or `label.csv`) beside the pickle. */
  labelCsv?: string;
  /** 'id' (the reference's MOSI join) or 'position' (its MOSEI join); default from the file name. */
  csvJoin?: 'id' | 'position';
}

export async function readMmimPickle(
  file: string,
  options: MmimReadOptions = {},
): Promise<MsaDataset> {
  const pickle = openPickleFile(file);
  try {
    return mmimFromPickle(pickle, readContext(file, options), options);
  } finally {
    pickle.close();
  }
}

/** For callers that already opened the pickle (format detection); does not close it. */
export function mmimFromPickle(
  pickle: PickleFile,
  ctx: ReadContext,
  options: MmimReadOptions = {},
): MsaDataset {
  const file = pickle.path;
  // The reference tests `'mosi' in path` first; 'mosei' does not contain 'mosi'.
  const base = path.basename(file).toLowerCase();
  const mosei = !base.includes('mosi') && base.includes('mosei');
  const join = options.csvJoin ?? (mosei ? 'position' : 'id');
  const csvPath = options.labelCsv ?? defaultCsv(file, mosei);
  const rows = readLabelCsv(csvPath);
  const dicts = splitDicts(ctx, pickle.root);
  const splits = {} as Record<SplitName, SplitData>;
  let offset = 0; // index of the split's first sample in train+valid+test (position join)
  const byId = join === 'id' ? indexRows(rows) : null;
  for (const split of SPLITS) {
    splits[split] = readSplit(ctx, split, dicts[split], (i, id) =>
      findRow(ctx, csvPath, rows, byId, split, i, offset + i, id),
    );
    offset += splits[split].size;
  }
  if (join === 'position' && rows.length > offset) {
    ctx.notes.warnings.push(
      `${csvPath}: ${rows.length - offset} CSV rows beyond the ${offset} samples were not used`,
    );
  }
  checkSameDims(
    ctx,
    SPLITS.map((s) => splits[s]),
  );
  return {
    name: guessName(file, splits.train.acousticDim, splits.train.visualDim),
    format: 'mmim-pickle',
    source: file,
    splits,
    notes: ctx.notes,
  };
}

function defaultCsv(file: string, mosei: boolean): string {
  const dir = path.dirname(file);
  const candidates = [mosei ? 'MOSEI-label.csv' : 'MOSI-label.csv', 'label.csv'].map((n) =>
    path.join(dir, n),
  );
  return candidates.find((c) => existsSync(c)) ?? (candidates[0] as string);
}

/** (video_id, clip_id) -> first CSV row, as `list.index` finds it. */
function indexRows(rows: readonly LabelRow[]): Map<string, number> {
  const out = new Map<string, number>();
  rows.forEach((r, i) => {
    const key = `${r.videoId}\u0000${r.clipId}`;
    if (!out.has(key)) out.set(key, i);
  });
  return out;
}

function findRow(
  ctx: ReadContext,
  csvPath: string,
  rows: readonly LabelRow[],
  byId: Map<string, number> | null,
  split: SplitName,
  index: number,
  position: number,
  id: string,
): LabelRow {
  if (byId === null) {
    const row = rows[position];
    if (!row) {
      throw new DataError(
        csvPath,
        `has ${rows.length} rows; sample ${position} of train+valid+test has none (position join)`,
        {
          split,
          index,
          field: 'id',
        },
      );
    }
    return row;
  }
  // The reference's regex '(.*)_(.*)' is greedy: it splits at the last underscore.
  const cut = id.lastIndexOf('_');
  if (cut < 0)
    throw new DataError(ctx.file, `id '${id}' has no '_' to split into video and clip`, {
      split,
      index,
      field: 'id',
    });
  const at = byId.get(`${id.slice(0, cut)}\u0000${id.slice(cut + 1)}`);
  const row = at === undefined ? undefined : rows[at];
  if (!row) {
    ctx.problems.error(
      new DataError(
        csvPath,
        `no row with video_id '${id.slice(0, cut)}' and clip_id '${id.slice(cut + 1)}' (id '${id}' of ${ctx.file})`,
        { split, index, field: 'id' },
      ),
    );
    return { videoId: '', clipId: '', text: '', raw: {} }; // collect mode (inspect) goes on
  }
  return row;
}

function readSplit(
  ctx: ReadContext,
  split: SplitName,
  d: PyDict,
  rowOf: (index: number, id: string) => LabelRow,
): SplitData {
  const idArr = getArray(ctx, d, split, 'id');
  const n = idArr.shape[0] ?? 1;
  const ids = firstColumn(ctx, split, idArr);
  const texts = ids.map((id, i) =>
    rowOf(i, id)
      .text.split(/\s+/)
      .filter((w) => w.length > 0)
      .join(' '),
  );
  const tokens = tokenizeTexts(ctx, split, texts, 'text');

  const labelArr = getArray(ctx, d, split, 'labels');
  checkRows(ctx, split, n, labelArr.shape[0] ?? 1, 'labels');
  const labels = firstPerSample(ctx, split, labelArr, n);
  checkLabels(ctx, split, labels, 'labels');

  const visual = frontPadded(ctx, split, getArray(ctx, d, split, 'vision', 3), 'vision', n);
  const acoustic = frontPadded(ctx, split, getArray(ctx, d, split, 'audio', 3), 'audio', n);
  return splitData(ctx, split, {
    ids,
    texts,
    tokens,
    visual: visual.column,
    visualLengths: visual.lengths,
    acoustic: acoustic.column,
    acousticLengths: acoustic.lengths,
    labels,
  });
}

/** `id[:, 0]` (or `id` when 1-D), bytes decoded as UTF-8. */
function firstColumn(ctx: ReadContext, split: SplitName, arr: NdArray): string[] {
  const all = located(ctx, { split, field: 'id' }, () => toStrings(arr));
  const n = arr.shape[0] ?? 1;
  const per = n === 0 ? 0 : all.length / n;
  return Array.from({ length: n }, (_, i) => all[i * per] as string);
}

function firstPerSample(ctx: ReadContext, split: SplitName, arr: NdArray, n: number): Float32Array {
  const all = located(ctx, { split, field: 'labels' }, () => toFloat32(arr));
  const per = n === 0 ? 1 : all.length / n;
  if (per !== 1 && per !== 7) {
    throw new DataError(
      ctx.file,
      `has ${per} values per sample; expected 1, or 7 (sentiment first)`,
      {
        split,
        field: 'labels',
      },
    );
  }
  if (per === 1) return all;
  return Float32Array.from({ length: n }, (_, i) => all[i * per] as number);
}

/**
 * The reference's lengths (T minus the rows summing to 0), then its rows [T - len, T) moved to
 * [0, len) and zeros after: in place, one sample at a time.
 */
function frontPadded(
  ctx: ReadContext,
  split: SplitName,
  arr: NdArray,
  field: string,
  n: number,
): { column: Column; lengths: Int32Array } {
  checkRows(ctx, split, n, arr.shape[0] as number, field);
  const [, steps = 0, dim = 0] = arr.shape;
  const data = located(ctx, { split, field }, () => toFloat32(arr));
  const lengths = new Int32Array(n);
  const per = steps * dim;
  for (let i = 0; i < n; i++) {
    let zeroRows = 0;
    for (let t = 0; t < steps; t++) {
      let sum = 0;
      for (let k = 0; k < dim; k++) sum += data[i * per + t * dim + k] as number;
      if (sum === 0) zeroRows++;
    }
    lengths[i] = steps - zeroRows;
  }
  const column: Column = { data, steps, dim, field };
  // NaN/Inf after the lengths are taken: a NaN row sums to NaN, so the reference counts it as real.
  checkFinite(ctx, split, column);
  for (let i = 0; i < n; i++) {
    const len = lengths[i] as number;
    const base = i * per;
    data.copyWithin(base, base + (steps - len) * dim, base + per);
    data.fill(0, base + len * dim, base + per);
    if (len === 0) {
      lengths[i] = 1; // an all-zero sample: one zero step
      ctx.notes.zeroLengthsRaised++;
    }
  }
  return { column, lengths };
}
