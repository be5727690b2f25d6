/**
 * The small building blocks every MMIM module uses, with PyTorch's semantics: Linear with a
 * (out, in) weight, LayerNorm with biased variance, HF BERT's exact (erf) GELU, inverted dropout
 * with counter-based masks. Callers run these inside a tf.tidy / gradient scope.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DROPOUT_MASK } from '../kernels/dropout-mask.js';
import { backendProfile } from '../kernels/registry.js';
import { dropoutRowKeys, dropoutScales, dropoutThreshold } from '../rng.js';
import type { ParamName } from '../params.js';

/** Looks up a parameter tensor by its reference name. */
export type ParamLookup = (name: ParamName) => tf.Tensor;

/** `x @ W^T + b` for x of shape (N, in); W is PyTorch's (out, in). */
export function linear(P: ParamLookup, prefix: string, x: tf.Tensor2D): tf.Tensor2D {
  return tf.add(
    tf.matMul(x, P(`${prefix}.weight`) as tf.Tensor2D, false, true),
    P(`${prefix}.bias`),
  );
}

export function layerNorm(
  P: ParamLookup,
  prefix: string,
  x: tf.Tensor2D,
  eps: number,
): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, -1, true);
  const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(normed, P(`${prefix}.weight`)), P(`${prefix}.bias`));
}

/** Exact GELU as HF BERT's "gelu": 0.5 x (1 + erf(x / sqrt 2)). */
export function gelu<T extends tf.Tensor>(x: T): T {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

/**
 * Where dropout masks come from. Masks are a function of (seed, step, site, global sample index,
 * element), so the same sample gets the same mask on any rank, in any batch slice.
 */
export interface DropoutContext {
  seed: number;
  step: number;
  /** Global index of each row of the batch (the first dimension of every batch tensor). */
  sampleIndex: ArrayLike<number>;
}

/** Inverted dropout over a tensor whose first dimension is the batch. No-op without a context. */
export function dropout<T extends tf.Tensor>(
  x: T,
  rate: number,
  ctx: DropoutContext | null,
  site: string,
): T {
  if (ctx === null || rate <= 0) return x;
  const rows = x.shape[0] ?? 0;
  if (rows !== ctx.sampleIndex.length) {
    throw new Error(
      `dropout at ${site}: ${rows} rows but ${ctx.sampleIndex.length} sample indices`,
    );
  }
  const width = rows === 0 ? 0 : x.size / rows;
  const key = { seed: ctx.seed, step: ctx.step, site };
  const { threshold, scale } = dropoutThreshold(rate);
  if (backendProfile().dropoutMask === 'kernel' && threshold <= 0xffffffff && rows > 0) {
    // Drawn on the device: only the row keys travel (kernels/dropout-mask.ts).
    const keys = dropoutRowKeys(key, ctx.sampleIndex);
    const rowKeys = tf.tensor1d(new Int32Array(keys.buffer, keys.byteOffset, keys.length), 'int32');
    const mask = tf.engine().runKernel(DROPOUT_MASK, { rowKeys }, { width, threshold, scale });
    return tf.mul(x, tf.reshape(mask as tf.Tensor, x.shape)) as T;
  }
  const scales = dropoutScales(key, rate, ctx.sampleIndex, width);
  return tf.mul(x, tf.tensor(scales, x.shape, 'float32')) as T;
}
