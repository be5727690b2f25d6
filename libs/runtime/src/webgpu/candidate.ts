/**
 * The `webgpu` backend: TF.js's tfjs-backend-webgpu on a Dawn adapter (see adapter.ts).
 *
 * We register the backend factory ourselves instead of letting tfjs-backend-webgpu do it:
 * its own registration runs at import time only when `navigator.gpu` exists, at priority 3
 * (above wasm, so merely importing it would move every later `tf.ready()` onto the GPU path),
 * and it asks for whichever adapter `navigator.gpu` gives. Ours uses the adapter we chose and
 * described, and never sets `navigator.gpu` (which also keeps Node able to exit on its own).
 */
import * as tf from '@tensorflow/tfjs-core';
import { findSystemLibraries } from './system-libraries.js';
import { openGpuAdapter, type GpuAdapterInfo, type GpuAdapterLike } from './adapter.js';

/** Thrown by a candidate that is installed but has nothing to run on here ('auto' moves on quietly). */
export class BackendUnavailableError extends Error {
  override readonly name = 'BackendUnavailableError';
}

interface WebGpuBackendModule {
  WebGPUBackend: new (device: unknown, adapterInfo?: unknown) => tf.KernelBackend;
}

let opened: { adapter: GpuAdapterLike; info: GpuAdapterInfo } | null = null;

/** The adapter the webgpu backend runs on (null before it is initialised). */
export function webgpuAdapterInfo(): GpuAdapterInfo | null {
  return opened?.info ?? null;
}

/** The device limits tfjs-backend-webgpu asks for (its own factory's list). */
function requiredLimits(adapter: GpuAdapterLike): Record<string, number> {
  const names = [
    'maxComputeWorkgroupStorageSize',
    'maxComputeWorkgroupsPerDimension',
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxComputeWorkgroupSizeX',
    'maxComputeInvocationsPerWorkgroup',
    // More inputs per kernel before tfjs's Concat has to split (its AddN cannot split).
    'maxStorageBuffersPerShaderStage',
  ];
  const out: Record<string, number> = {};
  for (const n of names) {
    const v = adapter.limits[n];
    if (v !== undefined) out[n] = v;
  }
  return out;
}

/**
 * Opens an adapter and registers TF.js's 'webgpu' backend on it. `auto`: only a hardware GPU
 * whose device node is visible; forced: any adapter, a CPU rasteriser included.
 */
export async function loadWebGpu(mode: 'auto' | 'forced'): Promise<void> {
  if (mode === 'auto') {
    const nodes = findSystemLibraries().gpuDeviceNodes;
    if (nodes.length === 0)
      throw new BackendUnavailableError('no GPU device node (/dev/dri/renderD*, /dev/nvidia*)');
  }
  let adapter: { adapter: GpuAdapterLike; info: GpuAdapterInfo };
  try {
    adapter = opened ?? (await openGpuAdapter({ requireHardware: mode === 'auto' }));
  } catch (err) {
    if (mode === 'auto') throw new BackendUnavailableError((err as Error).message, { cause: err });
    throw err;
  }
  if (mode === 'auto' && adapter.info.software)
    throw new BackendUnavailableError(`only a CPU rasteriser (${adapter.info.device})`);
  // Imported while navigator.gpu is absent, so the package registers its kernels but no backend.
  const mod = (await import('@tensorflow/tfjs-backend-webgpu')) as unknown as WebGpuBackendModule;
  if (opened === null || tf.findBackendFactory('webgpu') === null) {
    if (tf.findBackendFactory('webgpu') !== null) tf.removeBackend('webgpu');
    const chosen = adapter;
    tf.registerBackend(
      'webgpu',
      async () => {
        const device = await chosen.adapter.requestDevice({
          requiredFeatures: chosen.adapter.features.has('timestamp-query')
            ? ['timestamp-query']
            : [],
          requiredLimits: requiredLimits(chosen.adapter),
        });
        return new mod.WebGPUBackend(device, chosen.adapter.info);
      },
      // Below wasm and cpu: only an explicit setBackend('webgpu') selects it.
      0,
    );
  }
  opened = adapter;
}

export function describeWebGpu(): { device: string; threads: number; adapter: GpuAdapterInfo } {
  const info = opened?.info;
  if (info === undefined) throw new Error('webgpu backend is not initialised');
  const route = info.route === 'vulkan' ? 'Vulkan' : 'OpenGL ES';
  const name = info.device || info.description || 'unknown adapter';
  const kind = info.software ? 'CPU rasteriser' : 'GPU';
  return { device: `${kind} (WebGPU/${route}): ${name}`, threads: 1, adapter: info };
}
