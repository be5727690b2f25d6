/**
 * MMIM's heads on top of the encoders: the fusion SubNet, the MMILB likelihood bound, and CPC,
 * each as the authors' modules compute them (MMIM.md, "Forward pass").
 */
import * as tf from '@tensorflow/tfjs-core';
import { cpcLayerNames } from '../params.js';
import { dropout, linear, type DropoutContext, type ParamLookup } from './basic.js';

/** SubNet: dropout -> tanh(linear_1) -> tanh(linear_2) = fusion; linear_3(fusion) = prediction. */
export function fusionSubNet(
  P: ParamLookup,
  x: tf.Tensor2D,
  rate: number,
  drop: DropoutContext | null,
): { fusion: tf.Tensor2D; preds: tf.Tensor2D } {
  const dropped = dropout(x, rate, drop, 'fusion_prj.drop');
  const h1 = tf.tanh(linear(P, 'fusion_prj.linear_1', dropped));
  const fusion = tf.tanh(linear(P, 'fusion_prj.linear_2', h1));
  return { fusion, preds: linear(P, 'fusion_prj.linear_3', fusion) };
}

/**
 * MMILB's log-likelihood lower bound: mu and logvar from x (Lin-ReLU-Lin, no activation after
 * logvar's last layer, as in the code), lld = mean_b sum_d -(mu - y)^2 / (2 exp(logvar)).
 */
export function mmilbLld(
  P: ParamLookup,
  prefix: string,
  x: tf.Tensor2D,
  y: tf.Tensor2D,
): tf.Scalar {
  const mu = linear(P, `${prefix}.mlp_mu.2`, tf.relu(linear(P, `${prefix}.mlp_mu.0`, x)));
  const logvar = linear(
    P,
    `${prefix}.mlp_logvar.2`,
    tf.relu(linear(P, `${prefix}.mlp_logvar.0`, x)),
  );
  const positive = tf.div(tf.neg(tf.square(tf.sub(mu, y))), tf.mul(tf.exp(logvar), 2));
  return tf.mean(tf.sum(positive, -1));
}

/** The entropy projection z = tanh(Lin(y)), (B, y_size/4). */
export function entropyProjection(P: ParamLookup, prefix: string, y: tf.Tensor2D): tf.Tensor2D {
  return tf.tanh(linear(P, `${prefix}.entropy_prj.0`, y));
}

/** Rows scaled to unit L2 norm (no epsilon, as the reference). */
export function l2NormalizeRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.div(x, tf.sqrt(tf.sum(tf.square(x), 1, true)));
}

/** CPC's prediction of modality vectors from the fusion vector: x̂ = net(f). */
export function cpcPredict(
  P: ParamLookup,
  prefix: string,
  layers: number,
  fusion: tf.Tensor2D,
): tf.Tensor2D {
  const names = cpcLayerNames(prefix, layers);
  let h = fusion;
  names.forEach((name, i) => {
    h = linear(P, name, h);
    if (i === 0 && layers > 1) h = tf.tanh(h);
  });
  return h;
}

/**
 * InfoNCE over the batch: nce = -mean_i( <x_i, x̂_i> - logsumexp_j <x_i, x̂_j> ) with both sides
 * L2-normalised. `xNorm`/`predNorm` are the normalised rows of this batch.
 */
export function cpcNce(xNorm: tf.Tensor2D, predNorm: tf.Tensor2D): tf.Scalar {
  const pos = tf.sum(tf.mul(xNorm, predNorm), -1);
  const neg = tf.logSumExp(tf.matMul(xNorm, predNorm, false, true), -1);
  return tf.neg(tf.mean(tf.sub(pos, neg))) as tf.Scalar;
}
