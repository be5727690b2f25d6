/**
 * One batch of MMIM inputs as plain typed arrays (batch-first), so it can cross worker threads
 * and processes without TF.js. Row b of every array is the same sample.
 */
export interface MmimBatch {
  /** Number of samples B. */
  size: number;
  /** Token positions per sample L ([CLS] ... [SEP] + padding). */
  textLength: number;
  /** (B, L) token ids. */
  bertIds: Int32Array;
  /** (B, L) 1 for real tokens. */
  bertMask: Int32Array;
  /** (B, L) segment ids. */
  bertTypes: Int32Array;
  /** Visual steps T_v of the padded array. */
  visualSteps: number;
  /** (B, T_v, d_vin) visual features, padded after each sample's length. */
  visual: Float32Array;
  /** (B) valid visual steps per sample. */
  visualLengths: Int32Array;
  acousticSteps: number;
  /** (B, T_a, d_ain). */
  acoustic: Float32Array;
  acousticLengths: Int32Array;
  /** (B) sentiment score in [-3, 3]. */
  labels: Float32Array;
  /** (B) each sample's row in its split (a global, rank-independent key): dropout masks derive from it. */
  sampleIndex: Int32Array;
  /**
   * (B, d_t) precomputed text vectors ([CLS] of a frozen BERT, from a feature cache). When
   * present the model does not run BERT at all.
   */
  textFeatures?: Float32Array;
}

/** Check the arrays agree with the sizes; names the first field that does not. */
export function validateBatch(b: MmimBatch, dVisual: number, dAcoustic: number): void {
  const B = b.size;
  const expect = (field: keyof MmimBatch, actual: number, wanted: number): void => {
    if (actual !== wanted) {
      throw new Error(`batch field '${String(field)}' has ${actual} elements, expected ${wanted}`);
    }
  };
  expect('bertIds', b.bertIds.length, B * b.textLength);
  expect('bertMask', b.bertMask.length, B * b.textLength);
  expect('bertTypes', b.bertTypes.length, B * b.textLength);
  expect('visual', b.visual.length, B * b.visualSteps * dVisual);
  expect('visualLengths', b.visualLengths.length, B);
  expect('acoustic', b.acoustic.length, B * b.acousticSteps * dAcoustic);
  expect('acousticLengths', b.acousticLengths.length, B);
  expect('labels', b.labels.length, B);
  expect('sampleIndex', b.sampleIndex.length, B);
}

/** Check cached text features, when present, match the batch and BERT's width. */
export function validateTextFeatures(b: MmimBatch, width: number): void {
  if (b.textFeatures !== undefined && b.textFeatures.length !== b.size * width) {
    throw new Error(
      `batch field 'textFeatures' has ${b.textFeatures.length} elements, expected ${b.size * width}`,
    );
  }
}
