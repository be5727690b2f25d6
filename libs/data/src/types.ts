/**
 * The in-memory form of a multimodal sentiment dataset: one columnar block per split, each
 * modality a single typed array (row-major, padded to the split's longest sequence), so a
 * MOSEI-size split is held once, and a batch is a gather of rows.
 */

export type SplitName = 'train' | 'valid' | 'test';
export const SPLITS: readonly SplitName[] = ['train', 'valid', 'test'];

/** Which file layout a dataset came from. */
export type DatasetFormat = 'mmsa-pickle' | 'mmim-pickle' | 'csd' | 'synthetic';

/** One split, column by column. Row i of every column is sample i. */
export interface SplitData {
  name: SplitName;
  /** Number of samples N. */
  size: number;
  /** Per-sample ids as the source names them (e.g. `video_id$_$clip_id`). */
  ids: string[];
  /** Raw utterance text (may be empty when the source only has token ids). */
  texts: string[];
  /** Token positions per sample L (50 in the reference). */
  textLength: number;
  /** (N, L) BERT token ids, [CLS] first; attention mask and segment ids alike. */
  bertIds: Int32Array;
  bertMask: Int32Array;
  bertTypes: Int32Array;
  /** (N, T_v, d_v) visual features, zero after each sample's length; lengths in [1, T_v]. */
  visual: Float32Array;
  visualSteps: number;
  visualDim: number;
  visualLengths: Int32Array;
  /** (N, T_a, d_a) acoustic features. */
  acoustic: Float32Array;
  acousticSteps: number;
  acousticDim: number;
  acousticLengths: Int32Array;
  /** (N) sentiment regression label in [-3, 3]. */
  labels: Float32Array;
}

export interface MsaDataset {
  /** e.g. 'mosi', 'mosei', 'sims', or a file name. */
  name: string;
  format: DatasetFormat;
  /** The file or folder it was read from. */
  source: string;
  splits: Record<SplitName, SplitData>;
  /** What a reader changed or noticed while reading (absent for synthetic data). */
  notes?: ReadNotes;
}

/** Counts of the values a reader altered, so that nothing is changed silently. */
export interface ReadNotes {
  /** NaN/Inf feature values set to 0 (only with `sanitize: true`). */
  nonFiniteZeroed: number;
  /** -inf acoustic values set to 0, as MMSA's loader always does (MMSA pickles only). */
  negInfAcousticZeroed: number;
  /** Sequence lengths of 0 raised to 1, as the reference does. */
  zeroLengthsRaised: number;
  /** Non-zero values found after a sample's length and set to 0 (our layout pads with zeros). */
  paddingZeroed: number;
  /** Anything else worth a look (dropped videos, join details). */
  warnings: string[];
}

/** Identifies one sample wherever it travels (batches, dropout keys, predictions). */
export interface SampleKey {
  dataset: string;
  split: SplitName;
  index: number;
}

/** A problem in an input file, located as precisely as the format allows. */
export class DataError extends Error {
  override readonly name = 'DataError';
  constructor(
    readonly file: string,
    readonly detail: string,
    readonly location: { split?: SplitName; index?: number; field?: string } = {},
  ) {
    const where = [
      location.split === undefined ? null : `split '${location.split}'`,
      location.index === undefined ? null : `sample ${location.index}`,
      location.field === undefined ? null : `field '${location.field}'`,
    ]
      .filter((x) => x !== null)
      .join(', ');
    super(`${file}${where ? ` (${where})` : ''}: ${detail}`);
  }
}
