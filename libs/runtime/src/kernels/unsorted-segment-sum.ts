/**
 * `UnsortedSegmentSum` for the wasm backend.
 *
 * Upstream bug: tfjs-backend-wasm 4.22 registers no UnsortedSegmentSum kernel, so
 * `tf.unsortedSegmentSum` throws on wasm, and so does the gradient of `gather` (every embedding
 * lookup), which is built on it.
 *
 * Semantics follow the cpu kernel: out[s, ...] = sum of x[i, ...] over the i with
 * segmentIds[i] = s; ids outside [0, numSegments) are dropped (TensorFlow drops negative ids).
 * One pass over x, accumulating in the output's dtype as the cpu kernel does.
 */
import {
  UnsortedSegmentSum,
  util,
  type KernelConfig,
  type TensorInfo,
  type UnsortedSegmentSumAttrs,
} from '@tensorflow/tfjs-core';
import { allocate, asWasm, heapView, input, type KernelArgs } from './wasm-utils.js';

function unsortedSegmentSum(args: KernelArgs): TensorInfo {
  const backend = asWasm(args.backend);
  const x = input(args.inputs, 'x', UnsortedSegmentSum);
  const segmentIds = input(args.inputs, 'segmentIds', UnsortedSegmentSum);
  const { numSegments } = args.attrs as unknown as UnsortedSegmentSumAttrs;
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new Error(`UnsortedSegmentSum: unsupported dtype ${x.dtype} (float32 or int32)`);
  }
  const idsRank = segmentIds.shape.length;
  if (!util.arraysEqual(x.shape.slice(0, idsRank), segmentIds.shape)) {
    throw new Error(
      `UnsortedSegmentSum: segmentIds shape [${segmentIds.shape}] must be a prefix of x shape [${x.shape}]`,
    );
  }
  const count = util.sizeFromShape(segmentIds.shape);
  const inner = util.sizeFromShape(x.shape.slice(idsRank));
  const out = allocate(backend, [numSegments, ...x.shape.slice(idsRank)], x.dtype);
  const outVals = heapView(backend, out);
  const xVals = heapView(backend, x);
  const ids = heapView(backend, segmentIds);
  outVals.fill(0);
  for (let i = 0; i < count; i++) {
    const s = ids[i]!;
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) {
      outVals[dst + j]! += xVals[src + j]!;
    }
  }
  return out;
}

export const unsortedSegmentSumConfig: KernelConfig = {
  kernelName: UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum,
};
