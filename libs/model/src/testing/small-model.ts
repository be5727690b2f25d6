/**
 * The small MMIM that the behaviour suite and the data-parallel tests train: every module, a
 * two-layer BERT, sizes that keep a step well under a second on the CPU backends.
 */
import { resolveMmimConfig, type MmimConfig } from '../config.js';

export const SMALL_BERT = {
  vocab_size: 2000,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 64,
  max_position_embeddings: 64,
};

/** The small model's config, with `extra` keys over it (as the config file would give them). */
export function smallMmimConfig(extra: Partial<Record<string, unknown>> = {}): MmimConfig {
  return resolveMmimConfig({
    bert: SMALL_BERT,
    d_vin: 6,
    d_ain: 5,
    d_vh: 8,
    d_ah: 8,
    d_vout: 16,
    d_aout: 16,
    d_prjh: 24,
    ...extra,
  });
}

/** Batch shape for the small model (randomBatch's shape argument, less firstSampleIndex). */
export const SMALL_BATCH_SHAPE = { size: 16, textLength: 12, visualSteps: 9, acousticSteps: 7 };
