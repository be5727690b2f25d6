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
 * together is backend-independent (kernels/lstm-op.ts).
 */
export const LSTM_FORWARD = 'MmimLstmForward';
export const LSTM_BACKWARD = 'MmimLstmBackward';

/** Floats per (sample, step) in `saved`: 4 gates, cell, hidden. */
export const SAVED_PER_UNIT = 6;

/** Offsets inside one (sample, step) record of `saved`, in units of h. */
export const SAVED = { gates: 0, cell: 4, hidden: 5 } as const;
