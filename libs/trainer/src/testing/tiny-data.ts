/**
 * A tiny in-memory dataset for trainer tests: random MOSI-like rows whose label is a squashed
 * function of the visual features (learnable), in the columnar SplitData layout.
 */
import type { MsaDataset, SplitData, SplitName } from '@mmim/data';
import { DatasetBatches } from '../dataset-batches.js';
import { randomBatch, resolveMmimConfig } from '@mmim/model';
import type { BatchProvider } from '../trainer.js';

export const TINY_TEST_BERT = {
  vocab_size: 2000,
  hidden_size: 16,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 32,
  max_position_embeddings: 32,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  hidden_act: 'gelu' as const,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  pad_token_id: 0,
};

const SHAPE = { textLength: 12, visualSteps: 9, acousticSteps: 7 };

function split(name: SplitName, size: number, seed: number): SplitData {
  const c = resolveMmimConfig({ bert: TINY_TEST_BERT, d_vin: 6, d_ain: 5 });
  const b = randomBatch(c, { size, ...SHAPE }, seed);
  return {
    name,
    size,
    ids: Array.from({ length: size }, (_, i) => `${name}-${i}`),
    texts: Array.from({ length: size }, () => ''),
    textLength: b.textLength,
    bertIds: b.bertIds,
    bertMask: b.bertMask,
    bertTypes: b.bertTypes,
    visual: b.visual,
    visualSteps: b.visualSteps,
    visualDim: 6,
    visualLengths: b.visualLengths,
    acoustic: b.acoustic,
    acousticSteps: b.acousticSteps,
    acousticDim: 5,
    acousticLengths: b.acousticLengths,
    labels: b.labels,
  };
}

export function tinyDataset(sizes = { train: 24, valid: 8, test: 8 }): MsaDataset {
  return {
    name: 'tiny',
    format: 'synthetic',
    source: '(memory)',
    splits: {
      train: split('train', sizes.train, 1),
      valid: split('valid', sizes.valid, 2),
      test: split('test', sizes.test, 3),
    },
  };
}

/** Rows in file order, in batches of `size` (tests want fixed batches). */
export function orderedBatches(data: MsaDataset, size: number): BatchProvider {
  return new DatasetBatches(data, { batchSize: size, seed: 0, shuffle: false });
}
