/**
 * `BatchMatMul` for the wasm backend that always reaches XNNPACK's fast 2-D path.
 *
 * Upstream bug: tfjs-backend-wasm 4.22 sends a matMul to XNNPACK only when neither operand is
 * transposed and both have batch size 1; everything else (transposeA/B, batch > 1) runs a naive
 * blocked triple loop at 1.3-3.5 GFLOP/s instead of ~40. Every matMul gradient is transposed,
 * so backprop through a dense layer is 10-25x slower than the forward pass. It also returns a
 * wrong shape when both operands' batch dims broadcast ([2,1,m,k] x [1,3,k,n]), uninitialised
 * memory when k = 0, and traps ("remainder by zero") on an empty batch.
 *
 * Here transposes are done explicitly with the (fast) wasm Transpose kernel, then:
 *  - when `b` has no batch (or batch 1, broadcast over a's batch), `a` is flattened to
 *    [batch * m, k] and multiplied in ONE fast 2-D call;
 *  - otherwise each output batch item is one fast 2-D call on copies of its `a` and `b` items,
 *    with the batch dims broadcast as tf.matMul does.
 * Non-float32 inputs go to the upstream kernel (which rejects them with its own message).
 * Measured: 512^3 with transposeA 202 ms -> 8 ms; dense layer forward+backward 198 -> 22 ms;
 * attention-shaped batches (64 x [50,32]x[32,50]) 3.2 -> 1.4 ms (see docs/runtime.md).
 */
import {
  BatchMatMul,
  broadcast_util,
  util,
  type BatchMatMulAttrs,
  type KernelConfig,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import {
  allocate,
  asWasm,
  heapView,
  input,
  release,
  runKernel,
  wasmKernel,
  withShape,
  type KernelArgs,
} from './wasm-utils.js';

/** For each flat index of `outShape`, the flat index of the (broadcast) `inShape` item. */
export function broadcastSourceIndices(outShape: number[], inShape: number[]): Int32Array {
  const rank = outShape.length;
  const padded = [...new Array<number>(rank - inShape.length).fill(1), ...inShape];
  const inStrides = new Array<number>(rank);
  let stride = 1;
  for (let d = rank - 1; d >= 0; d--) {
    inStrides[d] = padded[d] === 1 ? 0 : stride; // a broadcast dim does not advance the source
    stride *= padded[d]!;
  }
  const total = util.sizeFromShape(outShape);
  const result = new Int32Array(total);
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let i = 0; i < total; i++) {
    result[i] = src;
    // Advance the odometer over outShape.
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      src += inStrides[d]!;
      if (idx[d]! < outShape[d]!) break;
      src -= idx[d]! * inStrides[d]!;
      idx[d] = 0;
    }
  }
  return result;
}

export function createBatchMatMulConfig(upstream: KernelConfig): KernelConfig {
  const transposeKernel = wasmKernel('Transpose');

  /** `t` seen as [batch, rows, cols], transposed to [batch, cols, rows] when `transpose`. */
  function asBatchRowMajor(
    backend: BackendWasm,
    t: TensorInfo,
    batch: number,
    rows: number,
    cols: number,
    transpose: boolean,
  ): { tensor: TensorInfo; owned: boolean } {
    if (!transpose) return { tensor: withShape(t, [batch, rows, cols]), owned: false };
    const x = withShape(t, [batch, cols, rows]);
    return { tensor: runKernel(transposeKernel, { x }, backend, { perm: [0, 2, 1] }), owned: true };
  }

  /** [1, m, k] x [1, k, n] on XNNPACK's fast path. */
  function fastMatMul(backend: BackendWasm, a: TensorInfo, b: TensorInfo): TensorInfo {
    return runKernel(upstream, { a, b }, backend, { transposeA: false, transposeB: false });
  }

  function batchMatMul(args: KernelArgs): TensorInfo | TensorInfo[] {
    const backend = asWasm(args.backend);
    const a = input(args.inputs, 'a', BatchMatMul);
    const b = input(args.inputs, 'b', BatchMatMul);
    const { transposeA, transposeB } = args.attrs as unknown as BatchMatMulAttrs;
    const aRank = a.shape.length;
    const bRank = b.shape.length;
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || aRank < 2 || bRank < 2) {
      return upstream.kernelFunc(args);
    }
    const m = a.shape[transposeA ? aRank - 1 : aRank - 2]!;
    const k = a.shape[transposeA ? aRank - 2 : aRank - 1]!;
    const kB = b.shape[transposeB ? bRank - 1 : bRank - 2]!;
    const n = b.shape[transposeB ? bRank - 2 : bRank - 1]!;
    if (k !== kB) {
      throw new Error(
        `Error in matMul: inner shapes (${k}) and (${kB}) of Tensors with shapes ${a.shape} and ` +
          `${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
      );
    }
    const aBatchShape = a.shape.slice(0, -2);
    const bBatchShape = b.shape.slice(0, -2);
    const outBatchShape = broadcast_util.assertAndGetBroadcastShape(aBatchShape, bBatchShape);
    const outShape = [...outBatchShape, m, n];
    const batchA = util.sizeFromShape(aBatchShape);
    const batchB = util.sizeFromShape(bBatchShape);
    const batchOut = util.sizeFromShape(outBatchShape);

    // Upstream traps ("remainder by zero") on an empty batch and returns uninitialised memory
    // for k = 0, so these are handled here.
    if (batchOut * m * n === 0) return allocate(backend, outShape, 'float32');
    if (k === 0) {
      const zeros = allocate(backend, outShape, 'float32');
      heapView(backend, zeros).fill(0); // a sum over nothing; the heap is not zeroed
      return zeros;
    }
    if (!transposeA && !transposeB && batchA === 1 && batchB === 1) {
      return upstream.kernelFunc(args); // already XNNPACK's fast path
    }

    const a3 = asBatchRowMajor(backend, a, batchA, m, k, transposeA);
    const b3 = asBatchRowMajor(backend, b, batchB, k, n, transposeB);
    try {
      if (batchB === 1) {
        // b is shared by every item of a: one call on a flattened to [batchA * m, k].
        const out = fastMatMul(
          backend,
          withShape(a3.tensor, [1, batchA * m, k]),
          withShape(b3.tensor, [1, k, n]),
        );
        return { dataId: out.dataId, shape: outShape, dtype: out.dtype };
      }
      return perItem(backend, a3.tensor, b3.tensor, aBatchShape, bBatchShape, outShape, m, k, n);
    } finally {
      if (a3.owned) release(backend, a3.tensor);
      if (b3.owned) release(backend, b3.tensor);
    }
  }

  /** One fast 2-D call per output batch item; a3 is [batchA, m, k], b3 is [batchB, k, n]. */
  function perItem(
    backend: BackendWasm,
    a3: TensorInfo,
    b3: TensorInfo,
    aBatchShape: number[],
    bBatchShape: number[],
    outShape: number[],
    m: number,
    k: number,
    n: number,
  ): TensorInfo {
    const outBatchShape = outShape.slice(0, -2);
    const aIndex = broadcastSourceIndices(outBatchShape, aBatchShape);
    const bIndex = broadcastSourceIndices(outBatchShape, bBatchShape);
    const out = allocate(backend, outShape, 'float32');
    const aItem = allocate(backend, [1, m, k], 'float32');
    try {
      for (let i = 0; i < aIndex.length; i++) {
        const ia = aIndex[i]!;
        const ib = bIndex[i]!;
        // b needs a NEW tensor per item: XNNPACK caches its packed weights by b's tensor id,
        // so refilling one b tensor would silently reuse the first item's weights.
        const bItem = allocate(backend, [1, k, n], 'float32');
        // Fresh views every time: each allocation may grow (and so detach) the heap.
        heapView(backend, aItem).set(heapView(backend, a3).subarray(ia * m * k, (ia + 1) * m * k));
        heapView(backend, bItem).set(heapView(backend, b3).subarray(ib * k * n, (ib + 1) * k * n));
        const item = fastMatMul(backend, aItem, bItem);
        release(backend, bItem);
        heapView(backend, out).set(heapView(backend, item), i * m * n);
        release(backend, item);
      }
    } finally {
      release(backend, aItem);
    }
    return out;
  }

  return {
    kernelName: BatchMatMul,
    backendName: 'wasm',
    kernelFunc: batchMatMul,
    // The upstream kernel binds its C++ function in setupFunc, which tfjs runs for the kernels
    // registered when the backend is (re)selected, so it has to stay on the replacement.
    setupFunc: upstream.setupFunc,
  };
}
