/**
 * A one-layer unidirectional LSTM over each sample's own valid steps, returning the hidden
 * state at that sample's last valid step: what PyTorch's nn.LSTM over a packed sequence
 * (`pack_padded_sequence(..., enforce_sorted=False)`) returns as `h_n`.
 *
 * Why a kernel: as tf ops the recurrence costs ~8 kernel calls per step, ~39k per batch
 * (FINDINGS.md), and dispatch dominates. Here the input projection for all steps is ONE matMul
 * (a tf op, so its gradient is TF.js's), and the recurrence plus its backward pass are one kernel
 * each, registered per backend (kernels/registry.ts): tight JS loops on cpu/wasm, WGSL on webgpu.
 * Steps past a sample's length are never read, so padding (whatever its values) cannot leak into
 * the result or the gradients.
 */
import * as tf from '@tensorflow/tfjs-core';
import { compositeLstm } from '../kernels/composite.js';
import { LSTM_FORWARD } from '../kernels/lstm-layout.js';
import { backendProfile, registerModelKernels } from '../kernels/registry.js';
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

/**
 * The recurrence as a differentiable op: `xp` (B, T, 4h) is the input projection with both
 * biases added, `whh` (4h, h) the recurrent weight; returns h at each sample's last step (B, h).
 * Runs as the current backend's kernel (kernels/lstm-layout.ts) or, where the backend's profile
 * says so, as a composition of standard ops; either way nothing is read back to the host.
 */
export function lstmRecurrence(
  xp: tf.Tensor3D,
  whh: tf.Tensor2D,
  lengths: Int32Array,
): tf.Tensor2D {
  const [B = 0, , G = 0] = xp.shape;
  const Hd = G / 4;
  if ((whh.shape[0] ?? 0) !== G || (whh.shape[1] ?? 0) !== Hd) {
    throw new Error(`lstm: weight_hh shape [${whh.shape}] does not fit 4h=${G}, h=${Hd}`);
  }
  if (lengths.length !== B) throw new Error(`lstm: ${lengths.length} lengths for batch of ${B}`);
  if (backendProfile().lstm === 'composite') return compositeLstm(xp, whh, lengths);
  registerModelKernels();
  const lengthTensor = tf.tensor1d(lengths, 'int32');
  const [h, saved] = tf.engine().runKernel(LSTM_FORWARD, {
    xp,
    whh,
    lengths: lengthTensor,
  }) as tf.Tensor[];
  // The tape keeps its own reference to what the gradient needs.
  saved?.dispose();
  lengthTensor.dispose();
  return h as tf.Tensor2D;
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
