/**
 * Deterministic batching and sharding for data-parallel training.
 *
 * - The epoch's global order depends only on (seed, epoch): train is shuffled (Fisher-Yates on
 *   `SeededRandom`), valid/test keep file order. Global batch i is `order[i*B, (i+1)*B)`; the last
 *   batch is partial when B does not divide N (PyTorch's DataLoader with drop_last=False).
 * - Rank r of K takes a contiguous slice of every global batch, numpy `array_split` style: with
 *   n = q*K + m rows, ranks 0..m-1 take q+1 rows and the others q, in rank order. A rank's slice
 *   may be empty (n < K); since the reference's L1 loss is a mean over the global batch, each rank
 *   should scale its summed loss by 1/n (not 1/its own count) so that the all-reduced gradient
 *   equals one worker's.
 * - So global batch i holds the same samples whatever K is, and the union of the K slices, in
 *   rank order, is exactly that batch.
 */
import { SeededRandom, hashString, hashWords, type MmimBatch } from '@mmim/model';
import type { SampleKey, SplitData, SplitName } from './types.js';

export interface EpochOrderOptions {
  seed: number;
  epoch: number;
  /** Shuffle (train) or keep file order (valid/test). */
  shuffle: boolean;
}

const SHUFFLE_STREAM = hashString('epoch-order');

/** The epoch's global order of row indices 0..size-1. */
export function epochOrder(size: number, o: EpochOrderOptions): Int32Array {
  if (!Number.isSafeInteger(size) || size < 0) throw new Error(`bad dataset size ${size}`);
  const order = Int32Array.from({ length: size }, (_, i) => i);
  if (!o.shuffle) return order;
  const rng = new SeededRandom(hashWords(o.seed, o.epoch, SHUFFLE_STREAM));
  for (let i = size - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    const t = order[i] as number;
    order[i] = order[j] as number;
    order[j] = t;
  }
  return order;
}

/** The usual order for a split: train shuffled, the others not. */
export function splitOrder(
  split: SplitName,
  size: number,
  seed: number,
  epoch: number,
): Int32Array {
  return epochOrder(size, { seed, epoch, shuffle: split === 'train' });
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new Error(`batch size must be a positive integer, got ${batchSize}`);
  }
}

/** ceil(N / B): the last batch is kept even when partial (drop_last=False). */
export function batchCount(size: number, batchSize: number): number {
  checkBatchSize(batchSize);
  return Math.ceil(size / batchSize);
}

/** Global batch i of an epoch's order (a view, not a copy). */
export function globalBatch(order: Int32Array, batchSize: number, i: number): Int32Array {
  const n = batchCount(order.length, batchSize);
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`batch ${i} out of range [0, ${n})`);
  return order.subarray(i * batchSize, Math.min(order.length, (i + 1) * batchSize));
}

/** [start, end) of rank r's rows in a global batch of n rows (the array_split rule above). */
export function rankRange(n: number, rank: number, worldSize: number): [number, number] {
  if (!Number.isSafeInteger(worldSize) || worldSize < 1)
    throw new Error(`bad world size ${worldSize}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) {
    throw new Error(`rank ${rank} out of range [0, ${worldSize})`);
  }
  const q = Math.floor(n / worldSize);
  const m = n % worldSize;
  const start = rank * q + Math.min(rank, m);
  return [start, start + q + (rank < m ? 1 : 0)];
}

/** Rank r's slice of a global batch (a view). */
export function rankSlice(batch: Int32Array, rank: number, worldSize: number): Int32Array {
  const [start, end] = rankRange(batch.length, rank, worldSize);
  return batch.subarray(start, end);
}

export interface ShardedBatch {
  /** Index of the global batch in the epoch. */
  index: number;
  /** Rows in the global batch (what the loss is averaged over). */
  globalSize: number;
  /** This rank's dataset row indices. */
  rows: Int32Array;
}

/** Every global batch of an epoch, as rank r of K sees it. */
export function* shardedBatches(
  order: Int32Array,
  batchSize: number,
  rank: number,
  worldSize: number,
): Generator<ShardedBatch> {
  const n = batchCount(order.length, batchSize);
  for (let i = 0; i < n; i++) {
    const g = globalBatch(order, batchSize, i);
    yield { index: i, globalSize: g.length, rows: rankSlice(g, rank, worldSize) };
  }
}

export interface MakeBatchOptions {
  /** Reorder rows by real token count, longest first, as the reference's collate does. Default false. */
  sortByTextLength?: boolean;
  /**
   * Cut the time axes to the batch's longest sequence. Numerically identical (the encoders read
   * only valid steps) and faster, but shapes then vary per batch. Default false.
   */
  trimSteps?: boolean;
}

/** A batch plus the identity of each row, which travels with it (predictions, dropout keys). */
export interface KeyedBatch {
  batch: MmimBatch;
  keys: SampleKey[];
}

function gatherRows<T extends Int32Array | Float32Array>(
  src: T,
  rowLength: number,
  rows: readonly number[],
  keep: number,
  make: (n: number) => T,
): T {
  const out = make(rows.length * keep);
  rows.forEach((r, b) => {
    const from = r * rowLength;
    out.set(src.subarray(from, from + keep), b * keep);
  });
  return out;
}

/** Gathers rows `indices` of a split into an MmimBatch; `sampleIndex` is the dataset row index. */
export function makeBatch(
  split: SplitData,
  indices: ArrayLike<number>,
  key: { dataset: string },
  options: MakeBatchOptions = {},
): KeyedBatch {
  const rows = Array.from(indices);
  for (const r of rows) {
    if (!Number.isInteger(r) || r < 0 || r >= split.size) {
      throw new Error(`row ${r} out of range for split '${split.name}' of ${split.size} samples`);
    }
  }
  const L = split.textLength;
  if (options.sortByTextLength) {
    const tokens = (r: number): number => {
      let s = 0;
      for (let t = 0; t < L; t++) s += split.bertMask[r * L + t] ?? 0;
      return s;
    };
    const count = new Map(rows.map((r) => [r, tokens(r)]));
    rows.sort((a, b) => (count.get(b) ?? 0) - (count.get(a) ?? 0)); // stable: ties keep order
  }
  const visualLengths = Int32Array.from(rows, (r) => split.visualLengths[r] ?? 1);
  const acousticLengths = Int32Array.from(rows, (r) => split.acousticLengths[r] ?? 1);
  const maxOf = (a: Int32Array, cap: number): number =>
    options.trimSteps ? Math.min(cap, Math.max(1, ...a)) : cap;
  const visualSteps = maxOf(visualLengths, split.visualSteps);
  const acousticSteps = maxOf(acousticLengths, split.acousticSteps);
  const vRow = split.visualSteps * split.visualDim;
  const aRow = split.acousticSteps * split.acousticDim;
  const batch: MmimBatch = {
    size: rows.length,
    textLength: L,
    bertIds: gatherRows(split.bertIds, L, rows, L, (n) => new Int32Array(n)),
    bertMask: gatherRows(split.bertMask, L, rows, L, (n) => new Int32Array(n)),
    bertTypes: gatherRows(split.bertTypes, L, rows, L, (n) => new Int32Array(n)),
    visualSteps,
    // Row-major (T, d): the first `steps * d` values of a row are its first `steps` steps.
    visual: gatherRows(
      split.visual,
      vRow,
      rows,
      visualSteps * split.visualDim,
      (n) => new Float32Array(n),
    ),
    visualLengths,
    acousticSteps,
    acoustic: gatherRows(
      split.acoustic,
      aRow,
      rows,
      acousticSteps * split.acousticDim,
      (n) => new Float32Array(n),
    ),
    acousticLengths,
    labels: Float32Array.from(rows, (r) => split.labels[r] ?? 0),
    sampleIndex: Int32Array.from(rows),
  };
  return { batch, keys: rows.map((index) => ({ dataset: key.dataset, split: split.name, index })) };
}
