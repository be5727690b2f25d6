/**
 * The masked LSTM recurrence as two kernels, the same contract on every backend:
 *
 * - `MmimLstmForward`: inputs `xp` (B, T, 4h: the input projection with both biases, gate order
 *   i, f, g, o), `whh` (4h, h), `lengths` (B, int32); outputs `h` (B, h), the hidden state at
 *   each sample's last valid step (lengths clamped to [1, T]), and `saved` (B, T, 6h): per step
 *   the gates i, f, g, o after their nonlinearity, then the cell c, then the hidden h. Steps at or
 *   past a sample's length are written as zeros and never read, so padding cannot leak.
 * - `MmimLstmBackward`: inputs `dy` (B, h), `whh`, `saved`, `lengths`; outputs `dxp` (B, T, 4h),
 *   zero past each length, and `dwhh` (4h, h) = sum over samples and valid steps t >= 1 of
 *   dxp[b, t] ⊗ h[b, t-1].
 *
 * Each backend registers its own implementation (kernels/registry.ts); the gradient that ties them
 * together is backend-independent (kernels/registry.ts).
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { kernelInput } from './kernel-input.js';

export const LSTM_FORWARD = 'MmimLstmForward';
export const LSTM_BACKWARD = 'MmimLstmBackward';

/** Floats per (sample, step) in `saved`: 4 gates, cell, hidden. */
export const SAVED_PER_UNIT = 6;

/** Offsets inside one (sample, step) record of `saved`, in units of h. */
export const SAVED = { gates: 0, cell: 4, hidden: 5 } as const;

/** The forward kernel's inputs and sizes, read the same way by every backend. */
export function lstmForwardInputs(inputs: object): {
  xp: TensorInfo;
  whh: TensorInfo;
  lengths: TensorInfo;
  B: number;
  T: number;
  Hd: number;
} {
  const xp = kernelInput(inputs, 'xp', LSTM_FORWARD);
  const [B = 0, T = 0, G = 0] = xp.shape;
  return {
    xp,
    whh: kernelInput(inputs, 'whh', LSTM_FORWARD),
    lengths: kernelInput(inputs, 'lengths', LSTM_FORWARD),
    B,
    T,
    Hd: G / 4,
  };
}

/** The backward kernel's inputs and sizes, read the same way by every backend. */
export function lstmBackwardInputs(inputs: object): {
  dy: TensorInfo;
  whh: TensorInfo;
  saved: TensorInfo;
  lengths: TensorInfo;
  B: number;
  T: number;
  Hd: number;
} {
  const dy = kernelInput(inputs, 'dy', LSTM_BACKWARD);
  const saved = kernelInput(inputs, 'saved', LSTM_BACKWARD);
  const [B = 0, T = 0] = saved.shape;
  return {
    dy,
    whh: kernelInput(inputs, 'whh', LSTM_BACKWARD),
    saved,
    lengths: kernelInput(inputs, 'lengths', LSTM_BACKWARD),
    B,
    T,
    Hd: dy.shape[1] ?? 0,
  };
}
