import '@tensorflow/tfjs-backend-wasm'; // registers the upstream wasm kernels that we wrap
import {
  getKernel,
  registerKernel,
  unregisterKernel,
  type KernelConfig,
} from '@tensorflow/tfjs-core';
import { createBatchMatMulConfig } from './batch-mat-mul.js';
import { createSliceConfig } from './slice.js';
import { createSplitVConfig } from './split-v.js';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum.js';
import { createUnpackConfig } from './unpack.js';

interface KernelFix {
  kernelName: string;
  /** Builds the replacement from the upstream kernel (undefined when upstream has none). */
  create(upstream: KernelConfig | undefined): KernelConfig;
}

function requireUpstream(
  build: (upstream: KernelConfig) => KernelConfig,
): (upstream: KernelConfig | undefined) => KernelConfig {
  return (upstream) => {
    if (upstream === undefined) throw new Error('tfjs-backend-wasm lacks a kernel we wrap');
    return build(upstream);
  };
}

const FIXES: readonly KernelFix[] = [
  { kernelName: 'UnsortedSegmentSum', create: () => unsortedSegmentSumConfig },
  { kernelName: 'BatchMatMul', create: requireUpstream(createBatchMatMulConfig) },
  { kernelName: 'Slice', create: requireUpstream(createSliceConfig) },
  { kernelName: 'Unpack', create: requireUpstream(createUnpackConfig) },
  { kernelName: 'SplitV', create: requireUpstream(createSplitVConfig) },
];

/** The configs we registered, to recognise our own kernels on a second call. */
const installed = new Map<string, KernelConfig>();

/**
 * Registers our replacement kernels for the `wasm` backend (see src/kernels/*.ts for the
 * upstream bug each one works around) and returns the names of the kernels concerned.
 * Idempotent; safe to call before or after the wasm backend is initialised.
 */
export function registerWasmKernelFixes(): string[] {
  for (const fix of FIXES) {
    // tfjs declares a non-optional return but gives undefined for an unknown kernel.
    const current = getKernel(fix.kernelName, 'wasm') as KernelConfig | undefined;
    if (current !== undefined && current === installed.get(fix.kernelName)) continue;
    const replacement = fix.create(current);
    if (current !== undefined) unregisterKernel(fix.kernelName, 'wasm');
    registerKernel(replacement);
    installed.set(fix.kernelName, replacement);
  }
  return FIXES.map((f) => f.kernelName);
}
