/**
 * A one-layer unidirectional LSTM over each sample's own valid steps, returning the hidden
 * state at that sample's last valid step: what PyTorch's nn.LSTM over a packed sequence
 * (`pack_padded_sequence(..., enforce_sorted=False)`) returns as `h_n`.
 *
 * Why a custom op: as tf ops the recurrence costs ~8 kernel calls per step, ~39k per batch
 * (FINDINGS.md), and dispatch dominates. Here the input projection for all steps is ONE matMul
 * (a tf op, so its gradient is TF.js's), and the recurrence plus its backward pass are tight
 * loops over typed arrays, with the activations kept in the closure (not as tensors, which the
 * engine could dispose before the gradient runs). Steps past a sample's length are never read,
 * so padding (whatever its values) cannot leak into the result or the gradients.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ParamLookup } from './basic.js';

/** Sequence lengths clamped to [1, T] (the reference's collate raises 0 to 1). */
export function clampLengths(lengths: ArrayLike<number>, T: number): Int32Array {
  const out = new Int32Array(lengths.length);
  for (let b = 0; b < lengths.length; b++) {
    const n = Math.floor(lengths[b] ?? 0);
    out[b] = Math.min(T, Math.max(1, n));
  }
  return out;
}

/** Activations kept from the forward pass for the backward pass (row-major per (b, t)). */
interface LstmSaved {
  /** i, f, g, o after their nonlinearity: (B, T, 4h). */
  gates: Float32Array;
  /** Cell state after each step: (B, T, h). */
  cells: Float32Array;
  /** Hidden state after each step: (B, T, h). */
  hiddens: Float32Array;
  /** Hidden state at each sample's last valid step: (B, h). */
  hOut: Float32Array;
}

/*
 * The loops below index typed arrays with `!`: every index is in range by construction, and
 * `?? 0` on each read would cost a branch in the innermost loops (measured ~2x).
 */

function lstmForward(
  X: Float32Array,
  W: Float64Array,
  lengths: Int32Array,
  B: number,
  T: number,
  Hd: number,
): LstmSaved {
  const G = 4 * Hd;
  const gates = new Float32Array(B * T * G);
  const cells = new Float32Array(B * T * Hd);
  const hiddens = new Float32Array(B * T * Hd);
  const hOut = new Float32Array(B * Hd);
  const pre = new Float64Array(G);
  const h = new Float64Array(Hd);
  const c = new Float64Array(Hd);
  for (let b = 0; b < B; b++) {
    h.fill(0);
    c.fill(0);
    const len = lengths[b]!;
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
      const sOff = (b * T + t) * Hd;
      for (let j = 0; j < Hd; j++) {
        const ig = 1 / (1 + Math.exp(-pre[j]!));
        const fg = 1 / (1 + Math.exp(-pre[Hd + j]!));
        const gg = Math.tanh(pre[2 * Hd + j]!);
        const og = 1 / (1 + Math.exp(-pre[3 * Hd + j]!));
        const cNew = fg * c[j]! + ig * gg;
        c[j] = cNew;
        const hNew = og * Math.tanh(cNew);
        h[j] = hNew;
        gates[xOff + j] = ig;
        gates[xOff + Hd + j] = fg;
        gates[xOff + 2 * Hd + j] = gg;
        gates[xOff + 3 * Hd + j] = og;
        cells[sOff + j] = cNew;
        hiddens[sOff + j] = hNew;
      }
    }
    for (let j = 0; j < Hd; j++) hOut[b * Hd + j] = h[j]!;
  }
  return { gates, cells, hiddens, hOut };
}

function lstmBackward(
  dH: Float32Array,
  W: Float64Array,
  gates: Float32Array,
  cells: Float32Array,
  hiddens: Float32Array,
  lengths: Int32Array,
  B: number,
  T: number,
  Hd: number,
): { dX: Float32Array; dW: Float32Array } {
  const G = 4 * Hd;
  const dX = new Float32Array(B * T * G);
  const dW = new Float64Array(G * Hd);
  const dh = new Float64Array(Hd);
  const dc = new Float64Array(Hd);
  const da = new Float64Array(G);
  const hPrev = new Float64Array(Hd);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < Hd; j++) dh[j] = dH[b * Hd + j]!;
    dc.fill(0);
    const len = lengths[b]!;
    for (let t = len - 1; t >= 0; t--) {
      const gOff = (b * T + t) * G;
      const sOff = (b * T + t) * Hd;
      const prevOff = sOff - Hd;
      for (let j = 0; j < Hd; j++) {
        const ig = gates[gOff + j]!;
        const fg = gates[gOff + Hd + j]!;
        const gg = gates[gOff + 2 * Hd + j]!;
        const og = gates[gOff + 3 * Hd + j]!;
        const tc = Math.tanh(cells[sOff + j]!);
        const cPrev = t > 0 ? cells[prevOff + j]! : 0;
        const dhj = dh[j]!;
        const dcj = dc[j]! + dhj * og * (1 - tc * tc);
        da[j] = dcj * gg * ig * (1 - ig);
        da[Hd + j] = dcj * cPrev * fg * (1 - fg);
        da[2 * Hd + j] = dcj * ig * (1 - gg * gg);
        da[3 * Hd + j] = dhj * tc * og * (1 - og);
        dc[j] = dcj * fg;
      }
      for (let k = 0; k < G; k++) dX[gOff + k] = da[k]!;
      if (t === 0) break;
      // dW_hh += da ⊗ h_{t-1};  dh_{t-1} = W_hh^T da
      for (let j = 0; j < Hd; j++) {
        hPrev[j] = hiddens[prevOff + j]!;
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
  return { dX, dW: Float32Array.from(dW) };
}

/**
 * The recurrence as a differentiable op: `xp` (B, T, 4h) is the input projection with both
 * biases added, `whh` (4h, h) the recurrent weight; returns h at each sample's last step (B, h).
 */
export function lstmRecurrence(
  xp: tf.Tensor3D,
  whh: tf.Tensor2D,
  lengths: Int32Array,
): tf.Tensor2D {
  const [B = 0, T = 0, G = 0] = xp.shape;
  const Hd = G / 4;
  if ((whh.shape[0] ?? 0) !== G || (whh.shape[1] ?? 0) !== Hd) {
    throw new Error(`lstm: weight_hh shape [${whh.shape}] does not fit 4h=${G}, h=${Hd}`);
  }
  if (lengths.length !== B) throw new Error(`lstm: ${lengths.length} lengths for batch of ${B}`);

  const op = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xpIn, whhIn] = inputs as [tf.Tensor, tf.Tensor];
    const X = xpIn.dataSync() as Float32Array;
    const W = Float64Array.from(whhIn.dataSync() as Float32Array);
    const { gates, cells, hiddens, hOut } = lstmForward(X, W, lengths, B, T, Hd);
    const value = tf.tensor2d(hOut, [B, Hd]);
    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const { dX, dW } = lstmBackward(
        dy.dataSync() as Float32Array,
        W,
        gates,
        cells,
        hiddens,
        lengths,
        B,
        T,
        Hd,
      );
      return [tf.tensor3d(dX, [B, T, G]), tf.tensor2d(dW, [G, Hd])];
    };
    return { value, gradFunc };
  });
  return op(xp, whh) as tf.Tensor2D;
}

/**
 * The reference's `RNNEncoder` without its dropout (0 for n_layer = 1 in the authors' code:
 * `dropout = hp.dropout_v if hp.n_layer > 1 else 0.0`): LSTM final state, then `linear_1`.
 * `x` is batch-first (B, T, in).
 */
export function lstmFinalState(
  P: ParamLookup,
  prefix: string,
  x: tf.Tensor3D,
  lengths: Int32Array,
): tf.Tensor2D {
  const [B = 0, T = 0, D = 0] = x.shape;
  const wih = P(`${prefix}.rnn.weight_ih_l0`) as tf.Tensor2D;
  const bias = tf.add(P(`${prefix}.rnn.bias_ih_l0`), P(`${prefix}.rnn.bias_hh_l0`));
  const G = wih.shape[0] ?? 0;
  const xp = tf.reshape(tf.add(tf.matMul(tf.reshape(x, [B * T, D]), wih, false, true), bias), [
    B,
    T,
    G,
  ]);
  return lstmRecurrence(xp as tf.Tensor3D, P(`${prefix}.rnn.weight_hh_l0`) as tf.Tensor2D, lengths);
}
