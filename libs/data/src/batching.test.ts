import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateBatch } from '@mmim/model';
import {
  batchCount,
  epochOrder,
  globalBatch,
  makeBatch,
  rankRange,
  rankSlice,
  shardedBatches,
  splitOrder,
} from './batching.js';
import type { SplitData } from './types.js';

/** A split whose every value names its place: visual[r,t,c] = 1000 r + 10 t + c (+1). */
function tinySplit(n = 7): SplitData {
  const L = 4;
  const [Tv, dv, Ta, da] = [3, 2, 2, 1];
  const visualLengths = Int32Array.from({ length: n }, (_, r) => 1 + (r % Tv));
  const acousticLengths = Int32Array.from({ length: n }, (_, r) => 1 + (r % Ta));
  const visual = new Float32Array(n * Tv * dv);
  const acoustic = new Float32Array(n * Ta * da);
  const bertIds = new Int32Array(n * L);
  const bertMask = new Int32Array(n * L);
  for (let r = 0; r < n; r++) {
    for (let t = 0; t < (visualLengths[r] ?? 0); t++) {
      for (let c = 0; c < dv; c++) visual[(r * Tv + t) * dv + c] = 1000 * r + 10 * t + c + 1;
    }
    for (let t = 0; t < (acousticLengths[r] ?? 0); t++) acoustic[r * Ta + t] = -(1000 * r + t + 1);
    const tokens = 2 + (r % 3); // [CLS] ... [SEP]
    for (let t = 0; t < tokens; t++) {
      bertIds[r * L + t] = 100 * r + t;
      bertMask[r * L + t] = 1;
    }
  }
  return {
    name: 'train',
    size: n,
    ids: Array.from({ length: n }, (_, r) => `v$_$${r}`),
    texts: Array.from({ length: n }, (_, r) => `text ${r}`),
    textLength: L,
    bertIds,
    bertMask,
    bertTypes: new Int32Array(n * L),
    visual,
    visualSteps: Tv,
    visualDim: dv,
    visualLengths,
    acoustic,
    acousticSteps: Ta,
    acousticDim: da,
    acousticLengths,
    labels: Float32Array.from({ length: n }, (_, r) => r / 10 - 0.3),
  };
}

describe('epoch order', () => {
  it('is a permutation fixed by (seed, epoch), different across epochs and seeds', () => {
    const a = epochOrder(100, { seed: 1111, epoch: 0, shuffle: true });
    assert.deepEqual(
      [...a].sort((x, y) => x - y),
      Array.from({ length: 100 }, (_, i) => i),
    );
    assert.deepEqual(a, epochOrder(100, { seed: 1111, epoch: 0, shuffle: true }));
    assert.notDeepEqual(a, epochOrder(100, { seed: 1111, epoch: 1, shuffle: true }));
    assert.notDeepEqual(a, epochOrder(100, { seed: 1112, epoch: 0, shuffle: true }));
    assert.notDeepEqual(
      a,
      Int32Array.from({ length: 100 }, (_, i) => i),
    );
  });

  it('keeps file order for valid and test', () => {
    assert.deepEqual(splitOrder('valid', 5, 1, 3), Int32Array.of(0, 1, 2, 3, 4));
    assert.deepEqual(splitOrder('test', 3, 9, 0), Int32Array.of(0, 1, 2));
    assert.notDeepEqual(splitOrder('train', 50, 1, 3), splitOrder('valid', 50, 1, 3));
  });
});

describe('global batches and rank slices', () => {
  it('keeps a partial last batch (drop_last=False)', () => {
    const order = epochOrder(10, { seed: 1, epoch: 0, shuffle: false });
    assert.equal(batchCount(10, 4), 3);
    assert.deepEqual(globalBatch(order, 4, 2), Int32Array.of(8, 9));
    assert.throws(() => globalBatch(order, 4, 3), /out of range/);
    assert.equal(batchCount(0, 4), 0);
    assert.throws(() => batchCount(10, 0), /positive integer/);
  });

  it('splits a batch array_split style and the slices reassemble it for K = 1, 2, 3, 5', () => {
    const order = epochOrder(23, { seed: 7, epoch: 2, shuffle: true });
    for (const K of [1, 2, 3, 5]) {
      const seen: number[][] = [];
      for (let r = 0; r < K; r++) {
        const mine = [...shardedBatches(order, 8, r, K)];
        assert.equal(mine.length, 3);
        mine.forEach((b, i) => {
          (seen[i] ??= []).push(...b.rows);
          assert.equal(b.globalSize, i < 2 ? 8 : 7);
        });
      }
      // Whatever K, batch i is the same rows in the same order.
      seen.forEach((rows, i) =>
        assert.deepEqual(rows, [...globalBatch(order, 8, i)], `K=${K} batch ${i}`),
      );
    }
    // 7 rows over 3 ranks: 3, 2, 2 (the first n % K ranks take one more).
    assert.deepEqual(
      [0, 1, 2].map((r) => rankRange(7, r, 3)),
      [
        [0, 3],
        [3, 5],
        [5, 7],
      ],
    );
    // Fewer rows than ranks: trailing ranks get empty slices.
    assert.deepEqual(
      [0, 1, 2].map((r) => rankSlice(Int32Array.of(4, 9), r, 3).length),
      [1, 1, 0],
    );
    assert.throws(() => rankRange(4, 3, 3), /rank 3 out of range/);
  });
});

describe('makeBatch', () => {
  it('gathers rows, keeps sampleIndex = dataset row and the keys, and validates', () => {
    const split = tinySplit();
    const { batch, keys } = makeBatch(split, [5, 0, 3], { dataset: 'tiny' });
    validateBatch(batch, 2, 1);
    assert.deepEqual(batch.sampleIndex, Int32Array.of(5, 0, 3));
    assert.deepEqual(keys, [
      { dataset: 'tiny', split: 'train', index: 5 },
      { dataset: 'tiny', split: 'train', index: 0 },
      { dataset: 'tiny', split: 'train', index: 3 },
    ]);
    assert.deepEqual(
      batch.labels,
      Float32Array.of(0.2, -0.3, 0).map((x) => Math.fround(x)),
    );
    // visual[b=0] is row 5: lengths 3, values 5001, 5002, 5011, ...
    assert.deepEqual(Array.from(batch.visual.subarray(0, 6)), [5001, 5002, 5011, 5012, 5021, 5022]);
    assert.deepEqual(Array.from(batch.acoustic), [-5001, -5002, -1, 0, -3001, -3002]);
    assert.deepEqual(Array.from(batch.bertIds.subarray(0, 4)), [500, 501, 502, 503]);
    assert.deepEqual(batch.visualLengths, Int32Array.of(3, 1, 1));
    assert.throws(() => makeBatch(split, [7], { dataset: 'tiny' }), /row 7 out of range/);
  });

  it('sorts by token count, longest first, stably, when asked', () => {
    const split = tinySplit();
    // token counts: row r has 2 + r % 3 -> rows 0:2, 1:3, 2:4, 4:3, 5:4
    const { batch, keys } = makeBatch(
      split,
      [0, 1, 2, 4, 5],
      { dataset: 'tiny' },
      { sortByTextLength: true },
    );
    assert.deepEqual(Array.from(batch.sampleIndex), [2, 5, 1, 4, 0]);
    assert.deepEqual(
      keys.map((k) => k.index),
      [2, 5, 1, 4, 0],
    );
    assert.deepEqual(
      Array.from(batch.labels),
      [2, 5, 1, 4, 0].map((r) => Math.fround(r / 10 - 0.3)),
    );
  });

  it('trims the time axes to the longest sequence in the batch when asked', () => {
    const split = tinySplit();
    const { batch } = makeBatch(split, [0, 1], { dataset: 'tiny' }, { trimSteps: true });
    assert.equal(batch.visualSteps, 2);
    assert.equal(batch.acousticSteps, 2);
    validateBatch(batch, 2, 1);
    assert.deepEqual(Array.from(batch.visual), [1, 2, 0, 0, 1001, 1002, 1011, 1012]);
    const empty = makeBatch(split, [], { dataset: 'tiny' }, { trimSteps: true }).batch;
    assert.equal(empty.size, 0);
    validateBatch(empty, 2, 1);
  });
});
