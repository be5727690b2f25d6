/**
 * MMIM weights on disk: safetensors files under the reference's state-dict names and PyTorch
 * layouts, so a PyTorch MMIM state dict saved with safetensors loads here and ours loads there.
 *
 * Our files carry the full model config in the metadata (`mmim_config`); a PyTorch file carries
 * none, so the dimensions are inferred from tensor shapes (the attention head count cannot be:
 * it comes from a BERT config, or hidden/64 as in every published BERT).
 */
import {
  readSafetensorsFile,
  writeSafetensorsFileAtomic,
  type SafetensorsFile,
} from '@mmim/runtime';
import {
  bertConfigSchema,
  resolveMmimConfig,
  type BertConfig,
  type MmimConfig,
} from '../config.js';
import type { MmimModel } from '../model.js';
import { BERT_PREFIX, mmimParamSpecs, type ParamName } from '../params.js';

export const MMIM_CONFIG_METADATA_KEY = 'mmim_config';

/** Training checkpoints keep optimiser moments under this prefix; they are not parameters. */
export const OPTIMIZER_TENSOR_PREFIX = 'optimizer.';

/** Float32 copies of every floating tensor in a file (F16/BF16/F64 converted). */
export function floatTensors(
  file: SafetensorsFile,
  source: string,
): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of file.tensors) {
    if (!['F32', 'F64', 'F16', 'BF16'].includes(t.dtype)) {
      if (name.endsWith('position_ids')) continue; // a buffer, not a parameter
      throw new Error(
        `${source}: tensor '${name}' has dtype ${t.dtype}; parameters must be floating point`,
      );
    }
    const data =
      t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>);
    out.set(name, { shape: [...t.shape], data });
  }
  return out;
}

/** Strip wrappers PyTorch adds to names (`module.` from DataParallel, `model.`). */
export function canonicalName(name: string): string {
  return name
    .replace(/^(module\.)+/, '')
    .replace(/^model\.(?=(text_enc|visual_enc|acoustic_enc|mi_|cpc_|fusion_prj))/, '');
}

function shapeOf(shapes: Map<string, number[]>, name: string, source: string): number[] {
  const s = shapes.get(name);
  if (s === undefined)
    throw new Error(`${source}: missing tensor '${name}' needed to infer the model's dimensions`);
  return s;
}

/**
 * Model dimensions from tensor shapes (PyTorch layouts). `bertHints` supplies what shapes cannot
 * tell (num_attention_heads, layer_norm_eps, dropout rates).
 */
export function inferMmimConfig(
  shapes: Map<string, number[]>,
  source: string,
  bertHints: Partial<BertConfig> = {},
  overrides: Record<string, unknown> = {},
): MmimConfig {
  const dim = (name: string, axis: number): number => shapeOf(shapes, name, source)[axis] ?? 0;
  const e = `${BERT_PREFIX}embeddings`;
  const hidden = dim(`${e}.word_embeddings.weight`, 1);
  let layers = 0;
  while (shapes.has(`${BERT_PREFIX}encoder.layer.${layers}.attention.self.query.weight`)) layers++;
  if (layers === 0)
    throw new Error(`${source}: no BERT encoder layers found (${BERT_PREFIX}encoder.layer.0.*)`);
  const heads = bertHints.num_attention_heads ?? (hidden % 64 === 0 ? hidden / 64 : undefined);
  if (heads === undefined) {
    throw new Error(
      `${source}: cannot infer num_attention_heads for hidden size ${hidden}; give a BERT config.json`,
    );
  }
  const bert = bertConfigSchema.parse({
    ...bertHints,
    vocab_size: dim(`${e}.word_embeddings.weight`, 0),
    hidden_size: hidden,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    intermediate_size: dim(`${BERT_PREFIX}encoder.layer.0.intermediate.dense.weight`, 0),
    max_position_embeddings: dim(`${e}.position_embeddings.weight`, 0),
    type_vocab_size: dim(`${e}.token_type_embeddings.weight`, 0),
  });
  let cpcLayers = 1;
  if (!shapes.has('cpc_zt.net.weight')) {
    cpcLayers = 0;
    while (shapes.has(`cpc_zt.net.${cpcLayers === 0 ? 0 : cpcLayers + 1}.weight`)) cpcLayers++;
  }
  return resolveMmimConfig(
    {
      bert,
      d_vin: dim('visual_enc.rnn.weight_ih_l0', 1),
      d_ain: dim('acoustic_enc.rnn.weight_ih_l0', 1),
      d_vh: dim('visual_enc.rnn.weight_hh_l0', 1),
      d_ah: dim('acoustic_enc.rnn.weight_hh_l0', 1),
      d_vout: dim('visual_enc.linear_1.weight', 0),
      d_aout: dim('acoustic_enc.linear_1.weight', 0),
      d_prjh: dim('fusion_prj.linear_1.weight', 0),
      cpc_layers: cpcLayers,
      add_va: shapes.has('mi_va.mlp_mu.0.weight'),
      ...overrides,
    },
    `${source} (inferred from tensor shapes)`,
  );
}

export interface LoadedWeights {
  config: MmimConfig;
  state: Map<ParamName, Float32Array>;
  /** The file's metadata (our checkpoints keep config, metrics, optimiser state keys here). */
  metadata: Record<string, string>;
  /** True when the config came from the file's metadata rather than inference. */
  configFromMetadata: boolean;
}

/** Read MMIM weights (ours or a PyTorch state dict saved as safetensors). */
export async function loadMmimWeights(
  path: string,
  bertHints: Partial<BertConfig> = {},
): Promise<LoadedWeights> {
  const file = await readSafetensorsFile(path);
  const tensors = floatTensors(file, path);
  const state = new Map<ParamName, Float32Array>();
  const shapes = new Map<string, number[]>();
  for (const [name, t] of tensors) {
    if (name.startsWith(OPTIMIZER_TENSOR_PREFIX)) continue;
    const canonical = canonicalName(name);
    state.set(canonical, t.data);
    shapes.set(canonical, t.shape);
  }
  const stored = file.metadata[MMIM_CONFIG_METADATA_KEY];
  const config =
    stored !== undefined
      ? resolveMmimConfig(JSON.parse(stored), `${path} metadata '${MMIM_CONFIG_METADATA_KEY}'`)
      : inferMmimConfig(shapes, path, bertHints);
  return { config, state, metadata: file.metadata, configFromMetadata: stored !== undefined };
}

/** Write the model's weights (F32, reference names) with its config in the metadata, atomically. */
export async function saveMmimWeights(
  path: string,
  model: MmimModel,
  metadata: Record<string, string> = {},
): Promise<void> {
  await model.pullToHost();
  await saveMmimStateDict(path, model.config, model.host, metadata);
}

/**
 * The same file from a state dict (e.g. the weights of a training checkpoint): every parameter
 * of `config`, in its order, F32, with the config in the metadata; throws naming a missing one.
 */
export async function saveMmimStateDict(
  path: string,
  config: MmimConfig,
  state: ReadonlyMap<ParamName, Float32Array>,
  metadata: Record<string, string> = {},
): Promise<void> {
  const tensors = new Map<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>();
  for (const spec of mmimParamSpecs(config)) {
    const data = state.get(spec.name);
    if (data === undefined) throw new Error(`no value for parameter '${spec.name}'`);
    tensors.set(spec.name, { dtype: 'F32', shape: spec.shape, data });
  }
  await writeSafetensorsFileAtomic(path, tensors, {
    format: 'pt',
    ...metadata,
    [MMIM_CONFIG_METADATA_KEY]: JSON.stringify(config),
  });
}
