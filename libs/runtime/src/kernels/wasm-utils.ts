import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import {
  getKernel,
  util,
  type DataType,
  type KernelConfig,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

/** The arguments tfjs passes to every kernel function. */
export interface KernelArgs {
  inputs: NamedTensorInfoMap;
  backend: object;
  attrs?: NamedAttrMap;
}

/** A numeric typed array as the wasm backend stores tensors (bool is Uint8Array). */
export type HeapArray = Float32Array | Int32Array | Uint8Array;

/** Kernel functions receive the backend as `{}`; ours are only ever registered for wasm. */
export function asWasm(backend: object): BackendWasm {
  return backend as BackendWasm;
}

/** The input `name`, or a clear error (tfjs types every input as optional). */
export function input(inputs: NamedTensorInfoMap, name: string, kernel: string): TensorInfo {
  const t = inputs[name];
  if (t === undefined) throw new Error(`${kernel}: missing input '${name}'`);
  return t;
}

/**
 * A view of a tensor's bytes on the wasm heap (no copy).
 *
 * Take views only after the kernel has allocated all its outputs: an allocation can grow the
 * wasm memory, which replaces the heap's ArrayBuffer and detaches every older view.
 * (`backend.readSync`, which the upstream kernels use, copies the whole tensor instead.)
 */
export function heapView(backend: BackendWasm, t: TensorInfo): HeapArray {
  return backend.typedArrayFromHeap(t) as HeapArray;
}

/** Allocates an output tensor on the wasm heap (uninitialised memory). */
export function allocate(backend: BackendWasm, shape: number[], dtype: DataType): TensorInfo {
  return backend.makeOutput(shape, dtype);
}

/** Frees a tensor this kernel allocated and does not return. */
export function release(backend: BackendWasm, t: TensorInfo): void {
  backend.disposeData(t.dataId);
}

/** The same data seen with another shape (no copy, no refcount: never release the result). */
export function withShape(t: TensorInfo, shape: number[]): TensorInfo {
  if (util.sizeFromShape(shape) !== util.sizeFromShape(t.shape)) {
    throw new Error(`cannot view shape [${t.shape}] as [${shape}]`);
  }
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

/** Runs a kernel of the wasm backend that must return a single tensor. */
export function runKernel(
  config: KernelConfig,
  inputs: NamedTensorInfoMap,
  backend: BackendWasm,
  attrs: NamedAttrMap = {},
): TensorInfo {
  const out = config.kernelFunc({ inputs, backend, attrs });
  if (Array.isArray(out)) throw new Error(`${config.kernelName} returned several tensors`);
  return out;
}

/** The kernel currently registered for `name` on wasm; throws if there is none. */
export function wasmKernel(name: string): KernelConfig {
  // tfjs declares a non-optional return but gives undefined for an unknown kernel.
  const config = getKernel(name, 'wasm') as KernelConfig | undefined;
  if (config === undefined) throw new Error(`the wasm backend has no ${name} kernel`);
  return config;
}
