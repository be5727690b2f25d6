/**
 * MMIM model configuration. Defaults are the authors' public code's (MMIM.md, "Defaults").
 * One zod schema parses every source (files, checkpoints' metadata, CLI) so a wrong key or
 * value fails early with the key's name.
 */
import { z } from 'zod';

export const bertConfigSchema = z
  .object({
    vocab_size: z.number().int().positive(),
    hidden_size: z.number().int().positive(),
    num_hidden_layers: z.number().int().positive(),
    num_attention_heads: z.number().int().positive(),
    intermediate_size: z.number().int().positive(),
    max_position_embeddings: z.number().int().positive(),
    type_vocab_size: z.number().int().positive().default(2),
    layer_norm_eps: z.number().positive().default(1e-12),
    hidden_act: z.literal('gelu').default('gelu'),
    hidden_dropout_prob: z.number().min(0).max(1).default(0.1),
    attention_probs_dropout_prob: z.number().min(0).max(1).default(0.1),
    pad_token_id: z.number().int().min(0).default(0),
  })
  .refine((c) => c.hidden_size % c.num_attention_heads === 0, {
    message: 'hidden_size must be a multiple of num_attention_heads',
  });
export type BertConfig = z.infer<typeof bertConfigSchema>;

/** A BERT small enough for quick runs on synthetic data (2 layers, 128 hidden). */
export const TINY_BERT: BertConfig = {
  vocab_size: 30522,
  hidden_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 512,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  pad_token_id: 0,
};

/** BERT-base-uncased's shape (weights come from a checkpoint or a random init). */
export const BERT_BASE: BertConfig = {
  ...TINY_BERT,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
};

export const textEncoderSchema = z
  .object({
    /** Fine-tune only the top N encoder layers (embeddings frozen when N < all). Default: all. */
    trainable_layers: z.number().int().min(0).nullable().default(null),
    /** Freeze BERT entirely (no gradients, no optimiser state). */
    freeze: z.boolean().default(false),
  })
  .strict();

export const mmimConfigSchema = z
  .object({
    bert: bertConfigSchema,
    text_encoder: textEncoderSchema.default({ trainable_layers: null, freeze: false }),
    d_vin: z.number().int().positive(),
    d_ain: z.number().int().positive(),
    d_vh: z.number().int().positive().default(16),
    d_ah: z.number().int().positive().default(16),
    d_vout: z.number().int().positive().default(16),
    d_aout: z.number().int().positive().default(16),
    d_prjh: z.number().int().positive().default(128),
    n_class: z.literal(1).default(1),
    n_layer: z.literal(1).default(1),
    cpc_layers: z.number().int().min(1).default(1),
    add_va: z.boolean().default(false),
    dropout_a: z.number().min(0).max(1).default(0.1),
    dropout_v: z.number().min(0).max(1).default(0.1),
    dropout_prj: z.number().min(0).max(1).default(0.1),
    /** Ridge added to the entropy covariances before logdet; 0 reproduces the reference. */
    entropy_jitter: z.number().min(0).default(0),
  })
  .strict();

export type MmimConfig = z.infer<typeof mmimConfigSchema>;
export type MmimConfigInput = z.input<typeof mmimConfigSchema>;

/** Parse and fill defaults; throws a ConfigError naming the offending keys. */
export function resolveMmimConfig(input: unknown, source = 'model config'): MmimConfig {
  const parsed = mmimConfigSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    throw new ConfigError(`${source} is invalid: ${problems}`);
  }
  return parsed.data;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Widths the reference derives: the text vector is BERT's hidden size (d_tout = d_tin = 768 for
 * BERT-base), and the entropy projection is y_size // 4.
 */
export function derivedDims(c: MmimConfig): { d_t: number; fusionIn: number } {
  const d_t = c.bert.hidden_size;
  return { d_t, fusionIn: d_t + c.d_aout + c.d_vout };
}
