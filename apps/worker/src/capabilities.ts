/**
 * What the worker tells the coordinator about itself when it registers (the protocol's
 * Capabilities): its backend and device, and for the webgpu backend the GPU adapter, so that
 * the dashboard can tell an H200 from a CPU rasteriser.
 */
import type { Capabilities, GpuAdapter } from '@mmim/protocol';
import type { BackendInfo, GpuAdapterInfo } from '@mmim/runtime';

export interface CapabilityFacts {
  workerName: string;
  version: string;
  /** Host memory in bytes (os.totalmem()). */
  memoryBytes: number;
}

export function adapterMessage(info: GpuAdapterInfo): GpuAdapter {
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    route: info.route,
    software: info.software,
    limits: {
      maxBufferSize: info.limits.maxBufferSize,
      maxStorageBufferBindingSize: info.limits.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: info.limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: info.limits.maxComputeInvocationsPerWorkgroup,
    },
  };
}

/** The Register request's capabilities; `adapter` only when the backend has one (webgpu). */
export function workerCapabilities(backend: BackendInfo, facts: CapabilityFacts): Capabilities {
  return {
    backend: backend.name,
    device: backend.device,
    memoryBytes: facts.memoryBytes,
    version: facts.version,
    workerName: facts.workerName,
    ...(backend.adapter === undefined ? {} : { adapter: adapterMessage(backend.adapter) }),
  };
}
