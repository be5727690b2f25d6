/**
 * `Unpack` (tf.unstack) for the wasm backend in one pass over the input.
 *
 * Upstream bug: tfjs-backend-wasm 4.22's Unpack calls its Slice once per output, and that Slice
 * copies the whole input each time (see slice.ts), so unstacking T steps is O(T^2): 89-320 ms
 * for a [375, 32, 74] tensor, against 1.3 ms here, where every output is copied straight from a
 * heap view, O(input) in total. String tensors still use the upstream kernel.
 */
import {
  Unpack,
  util,
  type KernelConfig,
  type TensorInfo,
  type UnpackAttrs,
} from '@tensorflow/tfjs-core';
import { copyRegion } from './copy-region.js';
import { allocate, asWasm, heapView, input, type KernelArgs } from './wasm-utils.js';

export function createUnpackConfig(upstream: KernelConfig): KernelConfig {
  function unpack(args: KernelArgs): TensorInfo | TensorInfo[] {
    const backend = asWasm(args.backend);
    const value = input(args.inputs, 'value', Unpack);
    if (value.dtype === 'string') return upstream.kernelFunc(args);
    const axis = util.parseAxisParam((args.attrs as unknown as UnpackAttrs).axis, value.shape)[0]!;
    const count = value.shape[axis]!;
    const outShape = value.shape.filter((_, d) => d !== axis);
    // Allocate every output before taking any heap view (an allocation may detach views).
    const outs = Array.from({ length: count }, () => allocate(backend, outShape, value.dtype));
    const src = heapView(backend, value);
    const begin = new Array<number>(value.shape.length).fill(0);
    const size = [...value.shape];
    size[axis] = 1;
    outs.forEach((out, i) => {
      begin[axis] = i;
      copyRegion(src, value.shape, begin, size, heapView(backend, out));
    });
    return outs;
  }
  return { kernelName: Unpack, backendName: 'wasm', kernelFunc: unpack };
}
