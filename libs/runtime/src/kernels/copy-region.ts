import type { HeapArray } from './wasm-utils.js';

/** Below this many elements a plain loop beats `subarray` + `set` (which allocate a view). */
const SET_THRESHOLD = 32;

/**
 * Copies the region `[begin, begin + size)` of a row-major tensor of shape `shape` into `dst`
 * starting at `dstOffset`, touching only the copied elements.
 *
 * Trailing dimensions that are taken whole are merged with the last partial one into a single
 * contiguous run, so e.g. taking row `i` of a [T, B, D] tensor is one `set` of B*D elements and
 * taking column `t` of a [B, T, D] tensor is B runs of D.
 */
export function copyRegion(
  src: HeapArray,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  dst: HeapArray,
  dstOffset = 0,
): void {
  const rank = shape.length;
  if (rank === 0) {
    dst[dstOffset] = src[0]!;
    return;
  }
  if (size.some((s) => s === 0)) return;

  const strides = new Array<number>(rank);
  let stride = 1;
  for (let d = rank - 1; d >= 0; d--) {
    strides[d] = stride;
    stride *= shape[d]!;
  }
  // k: the outermost dimension of the contiguous run.
  let k = rank - 1;
  while (k > 0 && begin[k] === 0 && size[k] === shape[k]) k--;
  const run = size[k]! * strides[k]!;

  let srcStart = 0;
  for (let d = 0; d <= k; d++) srcStart += begin[d]! * strides[d]!;
  let out = dstOffset;
  copyRun(src, srcStart, dst, out, run);
  out += run;
  if (k === 0) return;

  // Odometer over dimensions 0..k-1, moving srcStart by one stride per step.
  const idx = new Array<number>(k).fill(0);
  for (;;) {
    let d = k - 1;
    while (d >= 0 && idx[d] === size[d]! - 1) {
      srcStart -= idx[d]! * strides[d]!;
      idx[d] = 0;
      d--;
    }
    if (d < 0) return;
    idx[d]!++;
    srcStart += strides[d]!;
    copyRun(src, srcStart, dst, out, run);
    out += run;
  }
}

function copyRun(src: HeapArray, from: number, dst: HeapArray, to: number, length: number): void {
  if (length >= SET_THRESHOLD) {
    dst.set(src.subarray(from, from + length), to);
    return;
  }
  for (let i = 0; i < length; i++) dst[to + i] = src[from + i]!;
}
