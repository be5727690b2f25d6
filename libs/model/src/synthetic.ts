/**
 * Random MMIM batches with realistic shapes (MOSI: 50 tokens, audio 375 x 5, vision 500 x 20),
 * for smoke runs and benchmarks. Learnable synthetic datasets live in @mmim/data; these are
 * only shaped like the real thing.
 */
import type { MmimBatch } from './batch.js';
import type { MmimConfig } from './config.js';
import { SeededRandom } from './rng.js';

export interface RandomBatchShape {
  size: number;
  textLength: number;
  visualSteps: number;
  acousticSteps: number;
  /** Index of the first sample (sample indices key the dropout masks). */
  firstSampleIndex?: number;
}

/** MOSI's shapes at the reference's batch size. */
export const MOSI_SHAPE: RandomBatchShape = {
  size: 32,
  textLength: 50,
  visualSteps: 500,
  acousticSteps: 375,
};

export function randomBatch(c: MmimConfig, shape: RandomBatchShape, seed: number): MmimBatch {
  const rng = new SeededRandom(seed);
  const { size: B, textLength: L, visualSteps: Tv, acousticSteps: Ta } = shape;
  const bertIds = new Int32Array(B * L);
  const bertMask = new Int32Array(B * L);
  const vocab = c.bert.vocab_size;
  for (let b = 0; b < B; b++) {
    const words = 1 + Math.floor(rng.uniform() * (L - 2));
    bertIds[b * L] = Math.min(101, vocab - 1);
    bertMask[b * L] = 1;
    for (let t = 1; t <= words; t++) {
      bertIds[b * L + t] = Math.min(vocab - 1, 1000 + Math.floor(rng.uniform() * (vocab - 1000)));
      bertMask[b * L + t] = 1;
    }
    bertIds[b * L + words + 1] = Math.min(102, vocab - 1);
    bertMask[b * L + words + 1] = 1;
  }
  const lengths = (T: number): Int32Array =>
    Int32Array.from({ length: B }, () => 1 + Math.floor(rng.uniform() * T));
  const features = (T: number, d: number, lens: Int32Array): Float32Array => {
    const out = new Float32Array(B * T * d);
    for (let b = 0; b < B; b++) {
      const n = (lens[b] ?? 0) * d;
      for (let i = 0; i < n; i++) out[b * T * d + i] = rng.normal();
    }
    return out;
  };
  const visualLengths = lengths(Tv);
  const acousticLengths = lengths(Ta);
  const visual = features(Tv, c.d_vin, visualLengths);
  const acoustic = features(Ta, c.d_ain, acousticLengths);
  // A label the model can learn: a squashed mean of the first visual feature over valid steps.
  const labels = Float32Array.from({ length: B }, (_, b) => {
    const n = visualLengths[b] ?? 1;
    let s = 0;
    for (let t = 0; t < n; t++) s += visual[(b * Tv + t) * c.d_vin] ?? 0;
    return Math.round(3 * Math.tanh((2 * s) / Math.sqrt(n)) * 10) / 10;
  });
  const first = shape.firstSampleIndex ?? 0;
  return {
    size: B,
    textLength: L,
    bertIds,
    bertMask,
    bertTypes: new Int32Array(B * L),
    visualSteps: Tv,
    visual,
    visualLengths,
    acousticSteps: Ta,
    acoustic,
    acousticLengths,
    labels,
    sampleIndex: Int32Array.from({ length: B }, (_, i) => first + i),
  };
}

/** Rows [from, to) of a batch (what one rank of a data-parallel group holds). */
export function sliceBatch(
  b: MmimBatch,
  from: number,
  to: number,
  dVisual: number,
  dAcoustic: number,
): MmimBatch {
  const L = b.textLength;
  return {
    size: to - from,
    textLength: L,
    bertIds: b.bertIds.slice(from * L, to * L),
    bertMask: b.bertMask.slice(from * L, to * L),
    bertTypes: b.bertTypes.slice(from * L, to * L),
    visualSteps: b.visualSteps,
    visual: b.visual.slice(from * b.visualSteps * dVisual, to * b.visualSteps * dVisual),
    visualLengths: b.visualLengths.slice(from, to),
    acousticSteps: b.acousticSteps,
    acoustic: b.acoustic.slice(
      from * b.acousticSteps * dAcoustic,
      to * b.acousticSteps * dAcoustic,
    ),
    acousticLengths: b.acousticLengths.slice(from, to),
    labels: b.labels.slice(from, to),
    sampleIndex: b.sampleIndex.slice(from, to),
  };
}
