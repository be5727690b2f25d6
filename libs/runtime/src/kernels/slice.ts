/**
 * `Slice` for the wasm backend, copying only the requested region.
 *
 * Upstream bug: tfjs-backend-wasm 4.22's Slice starts with `backend.readSync(x.dataId)`, which
 * copies the WHOLE input out of the wasm heap before copying the region, so every slice costs
 * O(input) and slicing all T steps of a sequence is O(T^2). Measured (bench/wasm-kernels.bench.ts):
 * the 375 one-step slices of a [375, 32, 74] tensor take 96-350 ms upstream (0.25-0.9 ms each,
 * depending on heap state), 3 ms here. The region is copied straight from a heap view.
 * String tensors still use the upstream kernel.
 */
import {
  Slice,
  slice_util,
  type KernelConfig,
  type SliceAttrs,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { copyRegion } from './copy-region.js';
import { allocate, asWasm, heapView, input, type KernelArgs } from './wasm-utils.js';

export function createSliceConfig(upstream: KernelConfig): KernelConfig {
  function slice(args: KernelArgs): TensorInfo | TensorInfo[] {
    const backend = asWasm(args.backend);
    const x = input(args.inputs, 'x', Slice);
    if (x.dtype === 'string') return upstream.kernelFunc(args);
    const { begin, size } = args.attrs as unknown as SliceAttrs;
    // Resolves negative begins and -1 sizes; always returns exactly [begin, size].
    const [begin_, size_] = slice_util.parseSliceParams(x, begin, size) as [number[], number[]];
    const out = allocate(backend, size_, x.dtype);
    copyRegion(heapView(backend, x), x.shape, begin_, size_, heapView(backend, out));
    return out;
  }
  return { kernelName: Slice, backendName: 'wasm', kernelFunc: slice };
}
