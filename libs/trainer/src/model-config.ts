/**
 * From a trainer config, the dataset's feature sizes and a BERT config to the model config.
 */
import { resolveMmimConfig, type BertConfig, type MmimConfig } from '@mmim/model';
import type { TrainerConfig } from './config.js';

export interface FeatureDims {
  visual: number;
  acoustic: number;
}

export function modelConfigFor(c: TrainerConfig, dims: FeatureDims, bert: BertConfig): MmimConfig {
  const drop = c.dropout;
  return resolveMmimConfig(
    {
      bert:
        drop === null
          ? bert
          : { ...bert, hidden_dropout_prob: drop, attention_probs_dropout_prob: drop },
      text_encoder: {
        freeze: c.text_encoder.freeze,
        trainable_layers: c.text_encoder.trainable_layers,
      },
      d_vin: dims.visual,
      d_ain: dims.acoustic,
      d_vh: c.d_vh,
      d_ah: c.d_ah,
      d_vout: c.d_vout,
      d_aout: c.d_aout,
      d_prjh: c.d_prjh,
      cpc_layers: c.cpc_layers,
      add_va: c.add_va,
      dropout_a: drop ?? c.dropout_a,
      dropout_v: drop ?? c.dropout_v,
      dropout_prj: drop ?? c.dropout_prj,
      entropy_jitter: c.entropy_jitter,
    },
    'model config (from the trainer config and the dataset)',
  );
}
