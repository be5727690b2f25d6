/**
 * Tensor memory access for kernels that compute in JavaScript on the CPU backends (`cpu`: JS
 * typed arrays; `wasm`: views of the wasm heap). Reading here is not a device round trip: on
 * these backends a tensor's data IS host memory, so these kernels read it in place.
 *
 * Allocate every output before taking any view: on wasm an allocation can grow the heap, which
 * replaces its ArrayBuffer and detaches older views.
 */
import type { DataType, TensorInfo } from '@tensorflow/tfjs-core';

export type HostArray = Float32Array | Int32Array;

/** What a host kernel needs from its backend. */
export interface HostKernelIo {
  /** Allocates an output (uninitialised on wasm, zeros on cpu). */
  allocate(shape: number[], dtype: DataType): TensorInfo;
  /** The tensor's values, in place (no copy). Take views after the last allocate(). */
  view(t: TensorInfo): HostArray;
}

interface CpuBackendLike {
  data: { get(dataId: object): { values?: unknown } | undefined };
  makeTensorInfo(shape: number[], dtype: DataType, values?: unknown): TensorInfo;
}
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): HostArray;
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function cpuIo(backend: CpuBackendLike): HostKernelIo {
  return {
    allocate: (shape, dtype) => {
      const values =
        dtype === 'int32' ? new Int32Array(size(shape)) : new Float32Array(size(shape));
      return backend.makeTensorInfo(shape, dtype, values);
    },
    view: (t) => {
      const values = backend.data.get(t.dataId)?.values;
      if (!(values instanceof Float32Array || values instanceof Int32Array)) {
        throw new Error(`cpu backend: tensor [${t.shape}] ${t.dtype} has no readable values`);
      }
      return values;
    },
  };
}

function wasmIo(backend: WasmBackendLike): HostKernelIo {
  return {
    allocate: (shape, dtype) => backend.makeOutput(shape, dtype),
    view: (t) => backend.typedArrayFromHeap(t),
  };
}

/** Host backends and how to reach their memory. */
export const HOST_BACKENDS = {
  cpu: (backend: object) => cpuIo(backend as CpuBackendLike),
  wasm: (backend: object) => wasmIo(backend as WasmBackendLike),
} as const;

export type HostBackendName = keyof typeof HOST_BACKENDS;
export const HOST_BACKEND_NAMES = Object.keys(HOST_BACKENDS) as HostBackendName[];
