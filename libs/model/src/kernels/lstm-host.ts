/**
 * The LSTM kernels (lstm-layout.ts) in plain JavaScript for the CPU backends (cpu, wasm): the
 * fastest form there, as FINDINGS.md measured (~39k tf kernel calls per batch as a loop of tf ops;
 * one tight loop here). Recurrent sums accumulate in float64, as before this became a kernel.
 */
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { HOST_BACKENDS, type HostBackendName } from './host-io.js';
import {
  LSTM_BACKWARD,
  LSTM_FORWARD,
  SAVED,
  SAVED_PER_UNIT,
  lstmBackwardInputs,
  lstmForwardInputs,
} from './lstm-layout.js';

/*
 * The loops index typed arrays with `!`: every index is in range by construction, and `?? 0` on
 * each read would cost a branch in the innermost loops (measured ~2x).
 */

/** Steps a sample runs: its length clamped to [1, T] (the reference's collate raises 0 to 1). */
function stepsOf(length: number, T: number): number {
  return Math.min(T, Math.max(1, Math.floor(length)));
}

export function lstmForwardLoops(
  X: Float32Array,
  whh: Float32Array,
  lengths: Int32Array,
  B: number,
  T: number,
  Hd: number,
  hOut: Float32Array,
  saved: Float32Array,
): void {
  const G = 4 * Hd;
  const R = SAVED_PER_UNIT * Hd;
  const W = Float64Array.from(whh);
  const pre = new Float64Array(G);
  const h = new Float64Array(Hd);
  const c = new Float64Array(Hd);
  saved.fill(0);
  for (let b = 0; b < B; b++) {
    h.fill(0);
    c.fill(0);
    const len = stepsOf(lengths[b]!, T);
    for (let t = 0; t < len; t++) {
      const xOff = (b * T + t) * G;
      // W_hh h with four independent accumulators: ~1.5x over one (no loop-carried chain).
      for (let k = 0; k < G; k++) {
        const wOff = k * Hd;
        let s0 = X[xOff + k]!;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        let j = 0;
        for (; j + 3 < Hd; j += 4) {
          s0 += W[wOff + j]! * h[j]!;
          s1 += W[wOff + j + 1]! * h[j + 1]!;
          s2 += W[wOff + j + 2]! * h[j + 2]!;
          s3 += W[wOff + j + 3]! * h[j + 3]!;
        }
        for (; j < Hd; j++) s0 += W[wOff + j]! * h[j]!;
        pre[k] = s0 + s1 + s2 + s3;
      }
      const sOff = (b * T + t) * R;
      for (let j = 0; j < Hd; j++) {
        const ig = 1 / (1 + Math.exp(-pre[j]!));
        const fg = 1 / (1 + Math.exp(-pre[Hd + j]!));
        const gg = Math.tanh(pre[2 * Hd + j]!);
        const og = 1 / (1 + Math.exp(-pre[3 * Hd + j]!));
        const cNew = fg * c[j]! + ig * gg;
        c[j] = cNew;
        const hNew = og * Math.tanh(cNew);
        h[j] = hNew;
        saved[sOff + j] = ig;
        saved[sOff + Hd + j] = fg;
        saved[sOff + 2 * Hd + j] = gg;
        saved[sOff + 3 * Hd + j] = og;
        saved[sOff + SAVED.cell * Hd + j] = cNew;
        saved[sOff + SAVED.hidden * Hd + j] = hNew;
      }
    }
    for (let j = 0; j < Hd; j++) hOut[b * Hd + j] = h[j]!;
  }
}

export function lstmBackwardLoops(
  dH: Float32Array,
  whh: Float32Array,
  saved: Float32Array,
  lengths: Int32Array,
  B: number,
  T: number,
  Hd: number,
  dX: Float32Array,
  dWOut: Float32Array,
): void {
  const G = 4 * Hd;
  const R = SAVED_PER_UNIT * Hd;
  const W = Float64Array.from(whh);
  const dW = new Float64Array(G * Hd);
  const dh = new Float64Array(Hd);
  const dc = new Float64Array(Hd);
  const da = new Float64Array(G);
  const hPrev = new Float64Array(Hd);
  const cellAt = SAVED.cell * Hd;
  const hiddenAt = SAVED.hidden * Hd;
  dX.fill(0);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < Hd; j++) dh[j] = dH[b * Hd + j]!;
    dc.fill(0);
    const len = stepsOf(lengths[b]!, T);
    for (let t = len - 1; t >= 0; t--) {
      const sOff = (b * T + t) * R;
      const prevOff = sOff - R;
      for (let j = 0; j < Hd; j++) {
        const ig = saved[sOff + j]!;
        const fg = saved[sOff + Hd + j]!;
        const gg = saved[sOff + 2 * Hd + j]!;
        const og = saved[sOff + 3 * Hd + j]!;
        const tc = Math.tanh(saved[sOff + cellAt + j]!);
        const cPrev = t > 0 ? saved[prevOff + cellAt + j]! : 0;
        const dhj = dh[j]!;
        const dcj = dc[j]! + dhj * og * (1 - tc * tc);
        da[j] = dcj * gg * ig * (1 - ig);
        da[Hd + j] = dcj * cPrev * fg * (1 - fg);
        da[2 * Hd + j] = dcj * ig * (1 - gg * gg);
        da[3 * Hd + j] = dhj * tc * og * (1 - og);
        dc[j] = dcj * fg;
      }
      const gOff = (b * T + t) * G;
      for (let k = 0; k < G; k++) dX[gOff + k] = da[k]!;
      if (t === 0) break;
      // dW_hh += da ⊗ h_{t-1};  dh_{t-1} = W_hh^T da
      for (let j = 0; j < Hd; j++) {
        hPrev[j] = saved[prevOff + hiddenAt + j]!;
        dh[j] = 0;
      }
      for (let k = 0; k < G; k++) {
        const a = da[k]!;
        const wOff = k * Hd;
        for (let j = 0; j < Hd; j++) {
          dW[wOff + j] = dW[wOff + j]! + a * hPrev[j]!;
          dh[j] = dh[j]! + W[wOff + j]! * a;
        }
      }
    }
  }
  for (let i = 0; i < dW.length; i++) dWOut[i] = dW[i]!;
}

export function hostLstmKernels(backendName: HostBackendName): KernelConfig[] {
  const ioOf = HOST_BACKENDS[backendName];
  const forward: KernelConfig = {
    kernelName: LSTM_FORWARD,
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const io = ioOf(backend);
      const { xp, whh, lengths, B, T, Hd } = lstmForwardInputs(inputs);
      const h = io.allocate([B, Hd], 'float32');
      const saved = io.allocate([B, T, SAVED_PER_UNIT * Hd], 'float32');
      lstmForwardLoops(
        io.view(xp) as Float32Array,
        io.view(whh) as Float32Array,
        io.view(lengths) as Int32Array,
        B,
        T,
        Hd,
        io.view(h) as Float32Array,
        io.view(saved) as Float32Array,
      );
      return [h, saved];
    },
  };
  const backward: KernelConfig = {
    kernelName: LSTM_BACKWARD,
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const io = ioOf(backend);
      const { dy, whh, saved, lengths, B, T, Hd } = lstmBackwardInputs(inputs);
      const dxp = io.allocate([B, T, 4 * Hd], 'float32');
      const dwhh = io.allocate([4 * Hd, Hd], 'float32');
      lstmBackwardLoops(
        io.view(dy) as Float32Array,
        io.view(whh) as Float32Array,
        io.view(saved) as Float32Array,
        io.view(lengths) as Int32Array,
        B,
        T,
        Hd,
        io.view(dxp) as Float32Array,
        io.view(dwhh) as Float32Array,
      );
      return [dxp, dwhh];
    },
  };
  return [forward, backward];
}
