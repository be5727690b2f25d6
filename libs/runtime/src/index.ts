/**
 * @mmim/runtime: the TensorFlow.js runtime MMIM trains on.
 *
 * ```ts
 * import { initBackend, createLogger, readSafetensorsFile } from '@mmim/runtime';
 *
 * const info = await initBackend(); // 'auto' (or MMIM_BACKEND): tfjs-node-gpu > webgpu (hardware
 *                                   // adapters only) > tfjs-node > wasm > cpu
 * createLogger('trainer').info(info, 'backend'); // { name: 'wasm', device: 'CPU (wasm, SIMD, 1 thread)', ... }
 * const { tensors, metadata } = await readSafetensorsFile('weights.safetensors');
 * ```
 *
 * `initBackend` also registers the gradients training needs (tfjs-core's Node build ships none)
 * and, on wasm, replacement kernels for tfjs-backend-wasm 4.22's missing or slow ones. See
 * docs/runtime.md. (Test helpers comparing wasm with cpu, src/testing/, are internal to this lib.)
 */
export {
  BACKEND_CHOICES,
  initBackend,
  type BackendChoice,
  type BackendInfo,
  type BackendName,
  type InitBackendOptions,
} from './backend.js';
export { prepareGpuEnvironment, type GpuAdapterInfo, type WebGpuRoute } from './webgpu/adapter.js';
export { registerGradients } from './gradients/register.js';
export { registerWasmKernelFixes } from './kernels/register.js';
export { createLogger, type Logger } from './logger.js';
export { secretFlagProblem } from './secret-flags.js';
export {
  int64ToInt32,
  MAX_HEADER_BYTES,
  parseSafetensors,
  readSafetensorsFile,
  SafetensorsError,
  serializeSafetensors,
  writeSafetensorsFileAtomic,
  type SafetensorsData,
  type SafetensorsDtype,
  type SafetensorsFile,
  type SafetensorsInput,
  type SafetensorsTensor,
} from './safetensors.js';
