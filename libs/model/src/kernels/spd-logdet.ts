/**
 * `MmimSpdLogdet`: log det of a symmetric positive-definite matrix by Cholesky, deciding ON THE
 * DEVICE whether the matrix is positive definite, so the training step never reads the matrix
 * back. Input `a` (n, n); output `packed` (n*n + 2): A^-T row-major, then log det, then ok (1 or
 * 0). When the matrix is not positive definite (a pivot not above 1e-10 of the largest diagonal
 * entry, or not finite) every output is 0: finite, so a term masked by `ok` passes no NaN into the
 * gradients. The gradient of log det is dy * A^-T (registered in registry.ts).
 *
 * Host backends (cpu, wasm) run the float64 JS Cholesky of layers/logdet.ts; webgpu runs it in
 * WGSL (float32, one invocation: n is the entropy projection's width, y_size / 4).
 */
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { cholesky, inverseFromCholesky, RELATIVE_PIVOT_FLOOR } from '../layers/cholesky.js';
import { HOST_BACKENDS, type HostBackendName } from './host-io.js';
import { kernelInput } from './kernel-input.js';
import { asWebGpu, WGSL_MATH, type WebGpuProgram } from './webgpu-program.js';

export const SPD_LOGDET = 'MmimSpdLogdet';

function inputA(inputs: Record<string, TensorInfo | undefined>): TensorInfo {
  const a = kernelInput(inputs, 'a', SPD_LOGDET);
  const [n = 0, m = 0] = a.shape;
  if (a.shape.length !== 2 || n !== m)
    throw new Error(`${SPD_LOGDET}: matrix must be square, got [${a.shape}]`);
  return a;
}

/** Writes the packed result of `values` (n x n) into `out` (n*n + 2). */
export function spdLogdetInto(values: ArrayLike<number>, n: number, out: Float32Array): void {
  out.fill(0);
  const factor = n === 0 ? null : cholesky(values, n);
  if (factor === null) return;
  const inverse = inverseFromCholesky(factor.lower, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] = inverse[j * n + i] ?? 0;
  out[n * n] = factor.logdet;
  out[n * n + 1] = 1;
}

export function hostSpdLogdetKernel(backendName: HostBackendName): KernelConfig {
  return {
    kernelName: SPD_LOGDET,
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const io = HOST_BACKENDS[backendName](backend);
      const a = inputA(inputs);
      const n = a.shape[0] ?? 0;
      const out = io.allocate([n * n + 2], 'float32');
      spdLogdetInto(io.view(a), n, io.view(out) as Float32Array);
      return out;
    },
  };
}

function webgpuProgram(n: number): WebGpuProgram {
  return {
    outputShape: [n * n + 2],
    shaderKey: `mmimSpdLogdet_${n}`,
    dispatchLayout: { x: [0] },
    dispatch: [1, 1, 1],
    workgroupSize: [1, 1, 1],
    variableNames: ['a'],
    getUserCode: () => `
${WGSL_MATH}
const N = ${n};
var<private> L: array<f32, ${n * n}>;
var<private> y: array<f32, ${n}>;

fn main(index: i32) {
  // (Reading a uniform keeps the uniform binding in the pipeline's layout, which tfjs binds.)
  if (index != 0 || uniforms.aShape.x != N) { return; }
  var ok = true;
  var maxDiag = 0.0;
  for (var i = 0; i < N; i++) {
    let d = a[i * N + i];
    if (!mmimIsFinite(d)) { ok = false; }
    maxDiag = max(maxDiag, abs(d));
  }
  if (!(maxDiag > 0.0)) { ok = false; }
  let pivotFloor = maxDiag * ${RELATIVE_PIVOT_FLOOR.toExponential()};
  var logdet = 0.0;
  for (var j = 0; j < N; j++) {
    if (!ok) { break; }
    var d = a[j * N + j];
    for (var k = 0; k < j; k++) { d -= L[j * N + k] * L[j * N + k]; }
    if (!mmimIsFinite(d) || !(d > pivotFloor)) { ok = false; break; }
    let ljj = sqrt(d);
    L[j * N + j] = ljj;
    logdet += 2.0 * log(ljj);
    for (var i = j + 1; i < N; i++) {
      var s = a[i * N + j];
      for (var k = 0; k < j; k++) { s -= L[i * N + k] * L[j * N + k]; }
      L[i * N + j] = s / ljj;
    }
  }
  if (ok) {
    // A^-1 column by column: L y = e_col, then L^T x = y; written transposed (A^-T).
    for (var col = 0; col < N; col++) {
      for (var i = 0; i < N; i++) {
        var s = select(0.0, 1.0, i == col);
        for (var k = 0; k < i; k++) { s -= L[i * N + k] * y[k]; }
        y[i] = s / L[i * N + i];
      }
      for (var i = N - 1; i >= 0; i--) {
        var s = y[i];
        for (var k = i + 1; k < N; k++) { s -= L[k * N + i] * result[col * N + k]; }
        result[col * N + i] = s / L[i * N + i];
      }
    }
    if (!mmimIsFinite(logdet)) { ok = false; }
  }
  if (!ok) {
    for (var q = 0; q < N * N; q++) { result[q] = 0.0; }
    logdet = 0.0;
  }
  result[N * N] = logdet;
  result[N * N + 1] = select(0.0, 1.0, ok);
}
`,
  };
}

export function webgpuSpdLogdetKernel(): KernelConfig {
  return {
    kernelName: SPD_LOGDET,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend }) => {
      const a = inputA(inputs);
      const n = a.shape[0] ?? 0;
      return asWebGpu(backend).runWebGPUProgram(webgpuProgram(n), [a], 'float32');
    },
  };
}
