/**
 * `MmimDropoutMask`: the counter-based dropout scales of rng.ts (0 or 1/(1-rate) per element),
 * drawn on the device. Input `rowKeys` (rows, int32: the bits of dropoutRowKeys' uint32 keys);
 * attrs `width`, `threshold` (a uint32), `scale`; output (rows * width) float32, bit-identical to
 * dropoutScales, so every backend and rank draws the same mask for the same sample.
 *
 * Why a kernel: BERT-base at batch 32 draws ~40 M mask elements per step (attention
 * probabilities and hidden states of 12 layers); generating them in JavaScript and uploading
 * them costs more than the whole step on a GPU. Here only the row keys (a few bytes per sample
 * and site) travel.
 */
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { kernelInput } from './kernel-input.js';
import { asWebGpu, flatDispatch, type WebGpuProgram } from './webgpu-program.js';

export const DROPOUT_MASK = 'MmimDropoutMask';

export interface DropoutMaskAttrs {
  width: number;
  threshold: number;
  scale: number;
}

function program(rows: number, width: number): WebGpuProgram {
  return {
    outputShape: [rows * width],
    shaderKey: 'mmimDropoutMask',
    ...flatDispatch(rows * width),
    variableNames: ['rowKeys'],
    uniforms: 'width : i32, threshold : u32, scale : f32,',
    getUserCode: () => `
fn mmimMix32(x: u32) -> u32 {
  var h = x;
  h = h ^ (h >> 16u);
  h = h * 0x85ebca6bu;
  h = h ^ (h >> 13u);
  h = h * 0xc2b2ae35u;
  h = h ^ (h >> 16u);
  return h;
}
fn main(index: i32) {
  if (index < uniforms.size) {
    let r = index / uniforms.width;
    let e = index % uniforms.width;
    let h = mmimMix32(bitcast<u32>(rowKeys[r]) ^ (u32(e + 1) * 0x9e3779b1u));
    result[index] = select(0.0, uniforms.scale, h >= uniforms.threshold);
  }
}
`,
  };
}

export function webgpuDropoutMaskKernel(): KernelConfig {
  return {
    kernelName: DROPOUT_MASK,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const rowKeys = kernelInput(inputs, 'rowKeys', DROPOUT_MASK);
      const { width, threshold, scale } = attrs as unknown as DropoutMaskAttrs;
      const rows = rowKeys.shape[0] ?? 0;
      return asWebGpu(backend).runWebGPUProgram(program(rows, width), [rowKeys], 'float32', [
        { type: 'int32', data: [width] },
        { type: 'uint32', data: [threshold] },
        { type: 'float32', data: [scale] },
      ]);
    },
  };
}
