/**
 * Server-side downsampling of long curves, so a 100k-point series ships as at most `maxPoints`
 * points. Min/max per bucket (the "M4"-style envelope without the bucket's own first/last):
 * the first and last points are always kept, the points between are cut into equal-count
 * buckets and each bucket contributes its minimum and its maximum in their original order.
 * Spikes and divergence therefore stay visible, unlike plain striding.
 */
import type { CurvePoint } from './types.js';

function checkBudget(maxPoints: number): void {
  if (!Number.isInteger(maxPoints) || maxPoints < 2) {
    throw new RangeError(`maxPoints must be an integer >= 2, got ${maxPoints}`);
  }
}

/** Indices (ascending) of the points to keep out of `values.length`; all when it fits. */
export function downsampleIndices(values: ArrayLike<number>, maxPoints: number): number[] {
  checkBudget(maxPoints);
  const n = values.length;
  if (n <= maxPoints) return Array.from({ length: n }, (_, i) => i);
  const inner = n - 2;
  const buckets = Math.floor((maxPoints - 2) / 2);
  const out: number[] = [0];
  for (let b = 0; b < buckets; b++) {
    const start = 1 + Math.floor((b * inner) / buckets);
    const end = 1 + Math.floor(((b + 1) * inner) / buckets);
    if (end <= start) continue;
    // NaN (a diverged value) never wins a comparison: a bucket's extremes are its numbers,
    // and a bucket of only NaN keeps its first point so the gap still shows.
    let minI = -1;
    let maxI = -1;
    let minV = Number.POSITIVE_INFINITY;
    let maxV = Number.NEGATIVE_INFINITY;
    for (let i = start; i < end; i++) {
      const v = values[i] as number;
      if (Number.isNaN(v)) continue;
      if (minI < 0 || v < minV) {
        minV = v;
        minI = i;
      }
      if (maxI < 0 || v > maxV) {
        maxV = v;
        maxI = i;
      }
    }
    if (minI < 0) out.push(start);
    else if (minI === maxI) out.push(minI);
    else out.push(Math.min(minI, maxI), Math.max(minI, maxI));
  }
  out.push(n - 1);
  return out;
}

export function downsample(points: readonly CurvePoint[], maxPoints: number): CurvePoint[] {
  const values = points.map((p) => p.value);
  return downsampleIndices(values, maxPoints).map((i) => points[i] as CurvePoint);
}
