/**
 * MMSA's feature pickles: `aligned_50.pkl`, `unaligned_50.pkl` (MOSI, MOSEI) and CH-SIMS's
 * `unaligned_39.pkl`. A dict train/valid/test, each a dict of columns:
 *   raw_text (N) str, audio (N, T_a, d_a), vision (N, T_v, d_v), id (N) str,
 *   text (N, L, 768) BERT features (never read: MMIM runs its own BERT),
 *   text_bert (N, 3, L) token ids / attention mask / segment ids (used when present),
 *   audio_lengths, vision_lengths (unaligned files only), regression_labels (N).
 * Read as MMSA's own loader (data_loader.py) and its MMIM (models/singleTask/MMIM.py) do:
 *   - -inf acoustic values become 0 (data_loader.py does `audio[audio == -inf] = 0` always);
 *   - unaligned: the given lengths; aligned (no length keys): both modalities take the text's
 *     length, the sum of the BERT attention mask, as MMSA's MMIM does;
 *   - lengths of 0 are raised to 1 (the MMIM reference's collate).
 */
import {
  toFloat32,
  toInt32,
  toStrings,
  type NdArray,
  type PickleFile,
  type PyDict,
} from '../pickle/index.js';
import { DataError, SPLITS, type MsaDataset, type SplitData, type SplitName } from '../types.js';
import {
  applyLengths,
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
import { getArray, located, intsOf, openPickleFile, splitDicts } from './pickle-access.js';

export type MmsaReadOptions = ReadOptions;

export async function readMmsaPickle(
  path: string,
  options: MmsaReadOptions = {},
): Promise<MsaDataset> {
  const file = openPickleFile(path);
  try {
    return mmsaFromPickle(file, readContext(path, options));
  } finally {
    file.close();
  }
}

/** For callers that already opened the pickle (format detection); does not close it. */
export function mmsaFromPickle(file: PickleFile, ctx: ReadContext): MsaDataset {
  const dicts = splitDicts(ctx, file.root);
  const splits = {} as Record<SplitName, SplitData>;
  for (const split of SPLITS) splits[split] = readSplit(ctx, split, dicts[split]);
  checkSameDims(
    ctx,
    SPLITS.map((s) => splits[s]),
  );
  return {
    name: guessName(file.path, splits.train.acousticDim, splits.train.visualDim),
    format: 'mmsa-pickle',
    source: file.path,
    splits,
    notes: ctx.notes,
  };
}

function features(ctx: ReadContext, split: SplitName, arr: NdArray, field: string): Column {
  const [, steps = 0, dim = 0] = arr.shape;
  return { data: located(ctx, { split, field }, () => toFloat32(arr)), steps, dim, field };
}

function readSplit(ctx: ReadContext, split: SplitName, d: PyDict): SplitData {
  const labelsArr = getArray(ctx, d, split, 'regression_labels');
  const n = labelsArr.shape[0] ?? 1;
  const audioArr = getArray(ctx, d, split, 'audio', 3);
  const visionArr = getArray(ctx, d, split, 'vision', 3);
  checkRows(ctx, split, n, audioArr.shape[0] as number, 'audio');
  checkRows(ctx, split, n, visionArr.shape[0] as number, 'vision');
  if (labelsArr.size !== n) {
    throw new DataError(
      ctx.file,
      `has shape (${labelsArr.shape.join(', ')}), expected one label per sample`,
      {
        split,
        field: 'regression_labels',
      },
    );
  }
  const labels = located(ctx, { split, field: 'regression_labels' }, () => toFloat32(labelsArr));
  checkLabels(ctx, split, labels, 'regression_labels');

  const ids = located(ctx, { split, field: 'id' }, () => toStrings(getArray(ctx, d, split, 'id')));
  checkRows(ctx, split, n, ids.length, 'id');
  const texts = d.has('raw_text')
    ? located(ctx, { split, field: 'raw_text' }, () =>
        toStrings(getArray(ctx, d, split, 'raw_text')),
      )
    : new Array<string>(n).fill('');
  checkRows(ctx, split, n, texts.length, 'raw_text');
  const tokens = d.has('text_bert')
    ? bertColumns(ctx, split, d, n)
    : tokenizeTexts(ctx, split, texts, 'raw_text');

  const acoustic = features(ctx, split, audioArr, 'audio');
  const visual = features(ctx, split, visionArr, 'vision');
  zeroNegInf(ctx, acoustic.data);

  let acousticLengths: Int32Array;
  let visualLengths: Int32Array;
  const hasA = d.has('audio_lengths');
  const hasV = d.has('vision_lengths');
  if (hasA && hasV) {
    acousticLengths = intsOf(ctx, d, split, 'audio_lengths');
    visualLengths = intsOf(ctx, d, split, 'vision_lengths');
    checkRows(ctx, split, n, acousticLengths.length, 'audio_lengths');
    checkRows(ctx, split, n, visualLengths.length, 'vision_lengths');
  } else if (hasA || hasV) {
    throw new DataError(ctx.file, `has ${hasA ? 'audio' : 'vision'}_lengths but not the other`, {
      split,
    });
  } else {
    // Aligned: every modality is as long as the text (MMSA's MMIM sums text_bert's mask).
    acousticLengths = maskLengths(tokens.mask, n, ctx.textLength);
    visualLengths = acousticLengths.slice();
  }
  applyLengths(ctx, split, acoustic, acousticLengths, hasA ? 'audio_lengths' : 'text_bert');
  applyLengths(ctx, split, visual, visualLengths, hasV ? 'vision_lengths' : 'text_bert');
  checkFinite(ctx, split, acoustic);
  checkFinite(ctx, split, visual);
  return splitData(ctx, split, {
    ids,
    texts,
    tokens,
    visual,
    visualLengths,
    acoustic,
    acousticLengths,
    labels,
  });
}

/** MOSEI's COVAREP features hold -inf; MMSA's loader zeroes them unconditionally, so do we. */
function zeroNegInf(ctx: ReadContext, data: Float32Array): void {
  for (let i = 0; i < data.length; i++) {
    if (data[i] === -Infinity) {
      data[i] = 0;
      ctx.notes.negInfAcousticZeroed++;
    }
  }
}

/** `text_bert` (N, 3, L), float or int: rows 0/1/2 are ids, attention mask, segment ids. */
function bertColumns(ctx: ReadContext, split: SplitName, d: PyDict, n: number) {
  const arr = getArray(ctx, d, split, 'text_bert', 3);
  const [rows = 0, three = 0, L = 0] = arr.shape;
  checkRows(ctx, split, n, rows, 'text_bert');
  if (!ctx.textLengthGiven && split === SPLITS[0]) ctx.textLength = L; // the file's own length
  if (three !== 3 || L !== ctx.textLength) {
    throw new DataError(
      ctx.file,
      `has shape (${arr.shape.join(', ')}), expected (${n}, 3, ${ctx.textLength})`,
      {
        split,
        field: 'text_bert',
      },
    );
  }
  const all = located(ctx, { split, field: 'text_bert' }, () => toInt32(arr));
  const out = {
    ids: new Int32Array(n * L),
    mask: new Int32Array(n * L),
    types: new Int32Array(n * L),
  };
  for (let i = 0; i < n; i++) {
    out.ids.set(all.subarray((i * 3 + 0) * L, (i * 3 + 1) * L), i * L);
    out.mask.set(all.subarray((i * 3 + 1) * L, (i * 3 + 2) * L), i * L);
    out.types.set(all.subarray((i * 3 + 2) * L, (i * 3 + 3) * L), i * L);
  }
  return out;
}

function maskLengths(mask: Int32Array, n: number, L: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < L; j++) s += mask[i * L + j] as number;
    out[i] = s;
  }
  return out;
}
