/**
 * `MmimAdamUpdate`: one torch.optim.Adam update of one parameter as a single kernel per output
 * (the new parameter, exp_avg or exp_avg_sq: attr `output` 0, 1, 2), for the device optimiser on
 * webgpu. As tf ops the update is ~20 small kernels per parameter, ~1700 dispatches per step for
 * tiny-BERT MMIM; dispatch overhead then dominates a GPU step. The arithmetic is DeviceAdam's
 * composite one, in the same order, in float32.
 *
 * Inputs: `param`, `grad` (a zero gradient is `param` bound again with `hasGrad` 0), `m`, `v`
 * (flat, as DeviceAdam stores them), `scale` (the clipping factor) and `ok` (1 or 0: the step is
 * finite), both one-element tensors computed on the device. Nothing is read back.
 */
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { kernelInput } from './kernel-input.js';
import { asWebGpu, flatDispatch, type WebGpuProgram } from './webgpu-program.js';

export const ADAM_UPDATE = 'MmimAdamUpdate';

export interface AdamUpdateAttrs {
  /** 0: the new parameter, 1: exp_avg, 2: exp_avg_sq. */
  output: 0 | 1 | 2;
  hasGrad: boolean;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** lr / (1 - beta1^step). */
  stepSize: number;
  /** sqrt(1 - beta2^step). */
  bc2Sqrt: number;
}

const RESULT = [
  'select(p, p - (m1 / (sqrt(v1) / uniforms.bc2Sqrt + uniforms.eps)) * uniforms.stepSize, ok)',
  'select(m[index], m1, ok)',
  'select(v[index], v1, ok)',
];

function program(size: number, output: 0 | 1 | 2): WebGpuProgram {
  return {
    outputShape: [size],
    shaderKey: `mmimAdamUpdate_${output}`,
    ...flatDispatch(size),
    variableNames: ['param', 'grad', 'm', 'v', 'scale', 'okFlag'],
    uniforms:
      'hasGrad : i32, weightDecay : f32, beta1 : f32, oneMinusBeta1 : f32, beta2 : f32, ' +
      'oneMinusBeta2 : f32, eps : f32, stepSize : f32, bc2Sqrt : f32,',
    getUserCode: () => `
fn main(index: i32) {
  if (index < uniforms.size) {
    let p = param[index];
    var g = 0.0;
    if (uniforms.hasGrad == 1) { g = grad[index] * scale[0]; }
    g = g + p * uniforms.weightDecay;
    let m1 = m[index] * uniforms.beta1 + g * uniforms.oneMinusBeta1;
    let v1 = v[index] * uniforms.beta2 + (g * g) * uniforms.oneMinusBeta2;
    let ok = f32(okFlag[0]) > 0.5; // f32(): the buffer may hold a bool as i32
    result[index] = ${RESULT[output]};
  }
}
`,
  };
}

export function webgpuAdamUpdateKernel(): KernelConfig {
  return {
    kernelName: ADAM_UPDATE,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const named = inputs as Record<string, TensorInfo | undefined>;
      const param = kernelInput(named, 'param', ADAM_UPDATE);
      const a = attrs as unknown as AdamUpdateAttrs;
      const size = param.shape.reduce((x, y) => x * y, 1);
      const flat = (t: TensorInfo): TensorInfo => ({ ...t, shape: [size] });
      return asWebGpu(backend).runWebGPUProgram(
        program(size, a.output),
        [
          flat(param),
          flat(kernelInput(named, 'grad', ADAM_UPDATE)),
          kernelInput(named, 'm', ADAM_UPDATE),
          kernelInput(named, 'v', ADAM_UPDATE),
          kernelInput(named, 'scale', ADAM_UPDATE),
          kernelInput(named, 'ok', ADAM_UPDATE),
        ],
        'float32',
        [
          { type: 'int32', data: [a.hasGrad ? 1 : 0] },
          { type: 'float32', data: [a.weightDecay] },
          { type: 'float32', data: [a.beta1] },
          { type: 'float32', data: [1 - a.beta1] },
          { type: 'float32', data: [a.beta2] },
          { type: 'float32', data: [1 - a.beta2] },
          { type: 'float32', data: [a.eps] },
          { type: 'float32', data: [a.stepSize] },
          { type: 'float32', data: [a.bc2Sqrt] },
        ],
      );
    },
  };
}
