/**
 * The slice of tfjs-backend-webgpu's program interface our WGSL kernels use, typed locally so
 * that this lib does not import the package (it is loaded only when the webgpu backend is).
 *
 * tfjs wraps `getUserCode()` with the bindings: the output is `result` (read_write storage), each
 * of `variableNames` a read-only storage array of its dtype, and `uniforms` holds the shapes
 * (`<name>Shape`, `outShape`), `size` when `size: true`, and our own `uniforms` fields. With a
 * dispatch layout of only `x`, tfjs calls `main(index)` with the flat global invocation index.
 */
import type { DataType, TensorInfo } from '@tensorflow/tfjs-core';

export interface WebGpuProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  workgroupSize: [number, number, number];
  size?: boolean;
  uniforms?: string;
  getUserCode(): string;
}

export interface WebGpuBackendLike {
  runWebGPUProgram(
    program: WebGpuProgram,
    inputs: TensorInfo[],
    outputDtype: DataType,
    uniforms?: { type: 'int32' | 'float32' | 'uint32'; data: number[] }[],
  ): TensorInfo;
  device: { limits: Record<string, number> };
}

export function asWebGpu(backend: object): WebGpuBackendLike {
  const b = backend as Partial<WebGpuBackendLike>;
  if (typeof b.runWebGPUProgram !== 'function') {
    throw new Error('expected the webgpu backend (no runWebGPUProgram)');
  }
  return b as WebGpuBackendLike;
}

/** A flat program: one invocation per output element, 64 per workgroup. */
export function flatDispatch(
  elements: number,
): Pick<WebGpuProgram, 'dispatchLayout' | 'dispatch' | 'workgroupSize' | 'size'> {
  const workgroup = 64;
  return {
    dispatchLayout: { x: [0] },
    dispatch: [Math.max(1, Math.ceil(elements / workgroup)), 1, 1],
    workgroupSize: [workgroup, 1, 1],
    size: true,
  };
}

/** WGSL helpers shared by our kernels (tanh in the overflow-safe form tfjs itself uses). */
export const WGSL_MATH = `
fn mmimSigmoid(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
fn mmimTanh(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}
fn mmimIsFinite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}
`;
