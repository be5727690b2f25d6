/**
 * BERT as HF's BertModel computes it, returning only what MMIM uses: the last layer's hidden
 * state at position 0 ([CLS]). Module names follow modeling_bert (embeddings, attention.self,
 * attention.output, intermediate, output) because they ARE the checkpoint names.
 *
 * Two savings that change no number: the last layer computes its query, attention output and
 * feed-forward for the [CLS] row only (nothing else of it is used), and layers below
 * `startLayer` can run outside the gradient scope (frozen layers keep no activations).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BertConfig } from '../config.js';
import { BERT_PREFIX } from '../params.js';
import {
  dropout,
  gelu,
  layerNorm,
  linear,
  type DropoutContext,
  type ParamLookup,
} from './basic.js';

export interface BertInputs {
  /** (B, L) int32 token ids, [CLS] first. */
  ids: tf.Tensor2D;
  /** (B, L) int32, 1 for real tokens. */
  mask: tf.Tensor2D;
  /** (B, L) int32 segment ids. */
  types: tf.Tensor2D;
}

/** Hidden states (B*L, H) after the embeddings: word + position + token type, LayerNorm, dropout. */
export function bertEmbeddings(
  P: ParamLookup,
  c: BertConfig,
  inputs: BertInputs,
  drop: DropoutContext | null,
): tf.Tensor2D {
  const [B = 0, L = 0] = inputs.ids.shape;
  if (L > c.max_position_embeddings) {
    throw new Error(
      `text length ${L} exceeds max_position_embeddings ${c.max_position_embeddings}`,
    );
  }
  const p = `${BERT_PREFIX}embeddings`;
  const H = c.hidden_size;
  const words = paddedEmbedding(
    P(`${p}.word_embeddings.weight`),
    tf.reshape(inputs.ids, [B * L]),
    c.pad_token_id,
  );
  const types = tf.gather(
    P(`${p}.token_type_embeddings.weight`),
    tf.reshape(inputs.types, [B * L]),
  );
  const positions = tf.slice(P(`${p}.position_embeddings.weight`), [0, 0], [L, H]);
  const summed = tf.add(tf.reshape(tf.add(words, types), [B, L, H]), positions);
  const normed = layerNorm(P, `${p}.LayerNorm`, tf.reshape(summed, [B * L, H]), c.layer_norm_eps);
  const dropped = dropout(
    tf.reshape(normed, [B, L * H]),
    c.hidden_dropout_prob,
    drop,
    `${p}.dropout`,
  );
  return tf.reshape(dropped, [B * L, H]);
}

/**
 * `nn.Embedding(padding_idx)`: a row lookup whose padding row never receives a gradient. Zeroing
 * it in the lookup's own backward gives every path the same rule (one worker or summed across
 * workers, micro-batched BERT, host or device optimiser). The other rows' gradient is tfjs's
 * gather gradient unchanged: the same segment sum, with the padding positions' rows zeroed.
 */
export function paddedEmbedding(table: tf.Tensor, ids: tf.Tensor, paddingIdx: number): tf.Tensor2D {
  const lookup = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [w, i, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([i]);
    return {
      value: tf.gather(w, i),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [idx] = saved as [tf.Tensor];
        const rows = w.shape[0] ?? 0;
        const keep = tf.reshape(tf.notEqual(idx, paddingIdx), [-1, 1]);
        const masked = tf.where(keep, dy as tf.Tensor, tf.scalar(0));
        // Token ids are not differentiable; customGrad still wants a (float) tensor for them.
        return [tf.unsortedSegmentSum(masked, idx as tf.Tensor1D, rows), tf.zeros(idx.shape)];
      },
    };
  });
  return lookup(table, ids) as tf.Tensor2D;
}

/** HF's additive attention mask: 0 where attended, -10000 where padded; shape (B, 1, 1, L). */
export function extendedAttentionMask(mask: tf.Tensor2D): tf.Tensor4D {
  const [B = 0, L = 0] = mask.shape;
  return tf.reshape(tf.mul(tf.sub(1, tf.cast(mask, 'float32')), -10000), [B, 1, 1, L]);
}

function splitHeads(x: tf.Tensor2D, B: number, L: number, heads: number): tf.Tensor4D {
  const dh = (x.shape[1] ?? 0) / heads;
  return tf.transpose(tf.reshape(x, [B, L, heads, dh]), [0, 2, 1, 3]);
}

/**
 * One encoder layer. `hidden` is (B*L, H). With `clsOnly` the layer returns (B, H): the query,
 * attention output and feed-forward are computed for position 0 only.
 */
export function bertLayer(
  P: ParamLookup,
  c: BertConfig,
  index: number,
  hidden: tf.Tensor2D,
  B: number,
  L: number,
  extMask: tf.Tensor4D,
  drop: DropoutContext | null,
  clsOnly: boolean,
): tf.Tensor2D {
  const l = `${BERT_PREFIX}encoder.layer.${index}`;
  const H = c.hidden_size;
  const heads = c.num_attention_heads;
  const Lq = clsOnly ? 1 : L;
  const queryIn: tf.Tensor2D = clsOnly
    ? tf.reshape(tf.slice(tf.reshape(hidden, [B, L, H]), [0, 0, 0], [B, 1, H]), [B, H])
    : hidden;
  const q = splitHeads(linear(P, `${l}.attention.self.query`, queryIn), B, Lq, heads);
  const k = splitHeads(linear(P, `${l}.attention.self.key`, hidden), B, L, heads);
  const v = splitHeads(linear(P, `${l}.attention.self.value`, hidden), B, L, heads);
  const scores = tf.add(tf.div(tf.matMul(q, k, false, true), Math.sqrt(H / heads)), extMask);
  const probs = dropout(
    tf.softmax(scores),
    c.attention_probs_dropout_prob,
    drop,
    `${l}.attention.self.dropout`,
  );
  const context: tf.Tensor2D = tf.reshape(tf.transpose(tf.matMul(probs, v), [0, 2, 1, 3]), [
    B * Lq,
    H,
  ]);
  const attnDense = linear(P, `${l}.attention.output.dense`, context);
  const attnOut = layerNorm(
    P,
    `${l}.attention.output.LayerNorm`,
    tf.add(
      rowDropout(attnDense, B, c.hidden_dropout_prob, drop, `${l}.attention.output.dropout`),
      queryIn,
    ) as tf.Tensor2D,
    c.layer_norm_eps,
  );
  const inter = gelu(linear(P, `${l}.intermediate.dense`, attnOut));
  const out = linear(P, `${l}.output.dense`, inter);
  return layerNorm(
    P,
    `${l}.output.LayerNorm`,
    tf.add(
      rowDropout(out, B, c.hidden_dropout_prob, drop, `${l}.output.dropout`),
      attnOut,
    ) as tf.Tensor2D,
    c.layer_norm_eps,
  );
}

/** Dropout on a (B*L, H) tensor with one mask row per sample (so masks follow the sample). */
function rowDropout(
  x: tf.Tensor2D,
  B: number,
  rate: number,
  drop: DropoutContext | null,
  site: string,
): tf.Tensor2D {
  if (drop === null || rate <= 0) return x;
  const [rows = 0, H = 0] = x.shape;
  return tf.reshape(dropout(tf.reshape(x, [B, (rows / B) * H]), rate, drop, site), [rows, H]);
}

/**
 * Run layers [from, to) over hidden states (B*L, H). When the range includes the last layer the
 * result is the [CLS] vector (B, H); otherwise the hidden states (B*L, H) for the next part.
 * An empty range returns `hidden` unchanged.
 */
export function bertEncoderRange(
  P: ParamLookup,
  c: BertConfig,
  hidden: tf.Tensor2D,
  mask: tf.Tensor2D,
  from: number,
  to: number,
  drop: DropoutContext | null,
): tf.Tensor2D {
  const [B = 0, L = 0] = mask.shape;
  const ext = extendedAttentionMask(mask);
  let h = hidden;
  for (let i = from; i < to; i++) {
    const last = i === c.num_hidden_layers - 1;
    h = bertLayer(P, c, i, h, B, L, ext, drop, last);
  }
  return h;
}

/** [CLS] vector of the last layer, (B, H). */
export function bertCls(
  P: ParamLookup,
  c: BertConfig,
  inputs: BertInputs,
  drop: DropoutContext | null,
): tf.Tensor2D {
  const emb = bertEmbeddings(P, c, inputs, drop);
  return bertEncoderRange(P, c, emb, inputs.mask, 0, c.num_hidden_layers, drop);
}
