/**
 * The LSTM kernels (lstm-layout.ts) in WGSL for the webgpu backend. The recurrence is sequential
 * in time, so one workgroup runs one sample: invocation j owns hidden unit j (all four of its
 * gates), the previous hidden state is shared through workgroup memory, and two barriers per step
 * keep the invocations in lockstep. The loop bound (the sample's length) comes from a storage
 * buffer, which WGSL treats as non-uniform, so it is broadcast with workgroupUniformLoad before
 * the loop that holds the barriers.
 *
 * Float32 throughout (the JS kernels accumulate in float64): the parity tolerances (1e-5 forward,
 * 1e-4 gradients) hold, see kernels/kernels.test.ts.
 */
import type { KernelConfig } from '@tensorflow/tfjs-core';
import {
  LSTM_BACKWARD,
  LSTM_FORWARD,
  SAVED,
  SAVED_PER_UNIT,
  lstmBackwardInputs,
  lstmForwardInputs,
} from './lstm-layout.js';
import { asWebGpu, flatDispatch, WGSL_MATH, type WebGpuProgram } from './webgpu-program.js';

function checkHidden(Hd: number, limits: Record<string, number>): void {
  const most = Math.min(
    limits['maxComputeInvocationsPerWorkgroup'] ?? 256,
    limits['maxComputeWorkgroupSizeX'] ?? 256,
  );
  if (Hd > most) {
    throw new Error(
      `${LSTM_FORWARD} on webgpu: hidden size ${Hd} exceeds the adapter's ${most} invocations per workgroup`,
    );
  }
}

const R = SAVED_PER_UNIT;

/** saved (B, T, 6h): one workgroup per sample, one invocation per hidden unit. */
function forwardProgram(B: number, T: number, Hd: number): WebGpuProgram {
  return {
    outputShape: [B, T, R * Hd],
    shaderKey: `mmimLstmForward_${Hd}`,
    dispatchLayout: { x: [0] },
    dispatch: [B, 1, 1],
    workgroupSize: [Hd, 1, 1],
    variableNames: ['xp', 'whh', 'lengths'],
    getUserCode: () => `
${WGSL_MATH}
const HD = ${Hd};
var<workgroup> hPrev: array<f32, ${Hd}>;
var<workgroup> stepsShared: i32;

fn main(index: i32) {
  let b = i32(workgroupId.x);
  let j = i32(localId.x);
  let T = uniforms.xpShape.y;
  if (j == 0) { stepsShared = clamp(lengths[b], 1, T); }
  hPrev[j] = 0.0;
  let steps = workgroupUniformLoad(&stepsShared);
  var c = 0.0;
  for (var t = 0; t < steps; t++) {
    let xOff = (b * T + t) * 4 * HD;
    var ai = xp[xOff + j];
    var af = xp[xOff + HD + j];
    var ag = xp[xOff + 2 * HD + j];
    var ao = xp[xOff + 3 * HD + j];
    for (var k = 0; k < HD; k++) {
      let hk = hPrev[k];
      ai += whh[j * HD + k] * hk;
      af += whh[(HD + j) * HD + k] * hk;
      ag += whh[(2 * HD + j) * HD + k] * hk;
      ao += whh[(3 * HD + j) * HD + k] * hk;
    }
    let ig = mmimSigmoid(ai);
    let fg = mmimSigmoid(af);
    let gg = mmimTanh(ag);
    let og = mmimSigmoid(ao);
    c = fg * c + ig * gg;
    let h = og * mmimTanh(c);
    let sOff = (b * T + t) * ${R} * HD;
    result[sOff + j] = ig;
    result[sOff + HD + j] = fg;
    result[sOff + 2 * HD + j] = gg;
    result[sOff + 3 * HD + j] = og;
    result[sOff + ${SAVED.cell} * HD + j] = c;
    result[sOff + ${SAVED.hidden} * HD + j] = h;
    workgroupBarrier();
    hPrev[j] = h;
    workgroupBarrier();
  }
  for (var t = steps; t < T; t++) {
    let sOff = (b * T + t) * ${R} * HD;
    for (var q = 0; q < ${R}; q++) { result[sOff + q * HD + j] = 0.0; }
  }
}
`,
  };
}

/** h (B, h): the hidden state at each sample's last valid step. */
function lastHiddenProgram(B: number, Hd: number): WebGpuProgram {
  return {
    outputShape: [B, Hd],
    shaderKey: `mmimLstmLastHidden_${Hd}`,
    ...flatDispatch(B * Hd),
    variableNames: ['saved', 'lengths'],
    getUserCode: () => `
const HD = ${Hd};
fn main(index: i32) {
  if (index < uniforms.size) {
    let b = index / HD;
    let j = index % HD;
    let T = uniforms.savedShape.y;
    let t = clamp(lengths[b], 1, T) - 1;
    result[index] = saved[(b * T + t) * ${R} * HD + ${SAVED.hidden} * HD + j];
  }
}
`,
  };
}

/** dxp (B, T, 4h): the recurrence backwards, one workgroup per sample. */
function backwardProgram(B: number, T: number, Hd: number): WebGpuProgram {
  return {
    outputShape: [B, T, 4 * Hd],
    shaderKey: `mmimLstmBackward_${Hd}`,
    dispatchLayout: { x: [0] },
    dispatch: [B, 1, 1],
    workgroupSize: [Hd, 1, 1],
    variableNames: ['dy', 'whh', 'saved', 'lengths'],
    getUserCode: () => `
${WGSL_MATH}
const HD = ${Hd};
var<workgroup> da: array<f32, ${4 * Hd}>;
var<workgroup> stepsShared: i32;

fn main(index: i32) {
  let b = i32(workgroupId.x);
  let j = i32(localId.x);
  let T = uniforms.savedShape.y;
  if (j == 0) { stepsShared = clamp(lengths[b], 1, T); }
  let steps = workgroupUniformLoad(&stepsShared);
  for (var t = steps; t < T; t++) {
    let gOff = (b * T + t) * 4 * HD;
    for (var q = 0; q < 4; q++) { result[gOff + q * HD + j] = 0.0; }
  }
  var dh = dy[b * HD + j];
  var dc = 0.0;
  for (var s = 0; s < steps; s++) {
    let t = steps - 1 - s;
    let sOff = (b * T + t) * ${R} * HD;
    let ig = saved[sOff + j];
    let fg = saved[sOff + HD + j];
    let gg = saved[sOff + 2 * HD + j];
    let og = saved[sOff + 3 * HD + j];
    let tc = mmimTanh(saved[sOff + ${SAVED.cell} * HD + j]);
    var cPrev = 0.0;
    if (t > 0) { cPrev = saved[sOff - ${R} * HD + ${SAVED.cell} * HD + j]; }
    let dct = dc + dh * og * (1.0 - tc * tc);
    let dai = dct * gg * ig * (1.0 - ig);
    let daf = dct * cPrev * fg * (1.0 - fg);
    let dag = dct * ig * (1.0 - gg * gg);
    let dao = dh * tc * og * (1.0 - og);
    dc = dct * fg;
    let gOff = (b * T + t) * 4 * HD;
    result[gOff + j] = dai;
    result[gOff + HD + j] = daf;
    result[gOff + 2 * HD + j] = dag;
    result[gOff + 3 * HD + j] = dao;
    da[j] = dai;
    da[HD + j] = daf;
    da[2 * HD + j] = dag;
    da[3 * HD + j] = dao;
    workgroupBarrier();
    var acc = 0.0;
    for (var k = 0; k < 4 * HD; k++) { acc += whh[k * HD + j] * da[k]; }
    dh = acc;
    workgroupBarrier();
  }
}
`,
  };
}

/** dwhh (4h, h): one invocation per weight, summing over samples and steps t >= 1. */
function weightGradProgram(Hd: number): WebGpuProgram {
  return {
    outputShape: [4 * Hd, Hd],
    shaderKey: `mmimLstmWeightGrad_${Hd}`,
    ...flatDispatch(4 * Hd * Hd),
    variableNames: ['dxp', 'saved', 'lengths'],
    getUserCode: () => `
const HD = ${Hd};
fn main(index: i32) {
  if (index < uniforms.size) {
    let k = index / HD;
    let j = index % HD;
    let B = uniforms.dxpShape.x;
    let T = uniforms.dxpShape.y;
    var acc = 0.0;
    for (var b = 0; b < B; b++) {
      let steps = clamp(lengths[b], 1, T);
      for (var t = 1; t < steps; t++) {
        acc += dxp[(b * T + t) * 4 * HD + k] * saved[(b * T + t - 1) * ${R} * HD + ${SAVED.hidden} * HD + j];
      }
    }
    result[index] = acc;
  }
}
`,
  };
}

export function webgpuLstmKernels(): KernelConfig[] {
  const forward: KernelConfig = {
    kernelName: LSTM_FORWARD,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend }) => {
      const gpu = asWebGpu(backend);
      const { xp, whh, lengths, B, T, Hd } = lstmForwardInputs(inputs);
      checkHidden(Hd, gpu.device.limits);
      const saved = gpu.runWebGPUProgram(forwardProgram(B, T, Hd), [xp, whh, lengths], 'float32');
      const h = gpu.runWebGPUProgram(lastHiddenProgram(B, Hd), [saved, lengths], 'float32');
      return [h, saved];
    },
  };
  const backward: KernelConfig = {
    kernelName: LSTM_BACKWARD,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend }) => {
      const gpu = asWebGpu(backend);
      const { dy, whh, saved, lengths, B, T, Hd } = lstmBackwardInputs(inputs);
      checkHidden(Hd, gpu.device.limits);
      const dxp = gpu.runWebGPUProgram(
        backwardProgram(B, T, Hd),
        [dy, whh, saved, lengths],
        'float32',
      );
      const dwhh = gpu.runWebGPUProgram(weightGradProgram(Hd), [dxp, saved, lengths], 'float32');
      return [dxp, dwhh];
    },
  };
  return [forward, backward];
}
