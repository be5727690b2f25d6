/**
 * MMIM's parameters under the reference model's state-dict names and PyTorch layouts
 * (Linear weight (out, in); LSTM gates i, f, g, o; two LSTM biases). The name list IS the module
 * tree, as in HF's modeling_bert, so PyTorch checkpoints load without a mapping table.
 */
import type { MmimConfig } from './config.js';
import { derivedDims } from './config.js';
import { SeededRandom } from './rng.js';

/** A reference state-dict name, e.g. `mi_tv.mlp_mu.0.weight`. */
export type ParamName = string;

/** Optimiser groups as the reference's solver forms them (by substring of the name). */
export type ParamGroup = 'bert' | 'mmilb' | 'main';

export type InitKind =
  | { kind: 'xavier_normal' }
  | { kind: 'uniform'; bound: number }
  | { kind: 'normal'; std: number }
  | { kind: 'constant'; value: number };

export interface ParamSpec {
  name: ParamName;
  shape: number[];
  group: ParamGroup;
  init: InitKind;
}

export const BERT_PREFIX = 'text_enc.bertmodel.';

/** The reference's rule: `'bert' in name` -> bert, `elif 'mi' in name` -> mmilb, else main. */
export function groupOf(name: ParamName): ParamGroup {
  if (name.includes('bert')) return 'bert';
  if (name.includes('mi')) return 'mmilb';
  return 'main';
}

function linear(prefix: string, inSize: number, outSize: number, bert = false): ParamSpec[] {
  const bound = 1 / Math.sqrt(inSize);
  return [
    {
      name: `${prefix}.weight`,
      shape: [outSize, inSize],
      group: groupOf(prefix),
      init: bert ? { kind: 'normal', std: 0.02 } : { kind: 'xavier_normal' },
    },
    {
      name: `${prefix}.bias`,
      shape: [outSize],
      group: groupOf(prefix),
      init: bert ? { kind: 'constant', value: 0 } : { kind: 'uniform', bound },
    },
  ];
}

function layerNorm(prefix: string, size: number): ParamSpec[] {
  return [
    {
      name: `${prefix}.weight`,
      shape: [size],
      group: 'bert',
      init: { kind: 'constant', value: 1 },
    },
    { name: `${prefix}.bias`, shape: [size], group: 'bert', init: { kind: 'constant', value: 0 } },
  ];
}

export function bertParamSpecs(c: MmimConfig['bert']): ParamSpec[] {
  const p = BERT_PREFIX;
  const H = c.hidden_size;
  const emb = (name: string, rows: number): ParamSpec => ({
    name: `${p}embeddings.${name}.weight`,
    shape: [rows, H],
    group: 'bert',
    init: { kind: 'normal', std: 0.02 },
  });
  const specs: ParamSpec[] = [
    emb('word_embeddings', c.vocab_size),
    emb('position_embeddings', c.max_position_embeddings),
    emb('token_type_embeddings', c.type_vocab_size),
    ...layerNorm(`${p}embeddings.LayerNorm`, H),
  ];
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const l = `${p}encoder.layer.${i}`;
    specs.push(
      ...linear(`${l}.attention.self.query`, H, H, true),
      ...linear(`${l}.attention.self.key`, H, H, true),
      ...linear(`${l}.attention.self.value`, H, H, true),
      ...linear(`${l}.attention.output.dense`, H, H, true),
      ...layerNorm(`${l}.attention.output.LayerNorm`, H),
      ...linear(`${l}.intermediate.dense`, H, c.intermediate_size, true),
      ...linear(`${l}.output.dense`, c.intermediate_size, H, true),
      ...layerNorm(`${l}.output.LayerNorm`, H),
    );
  }
  specs.push(...linear(`${p}pooler.dense`, H, H, true));
  return specs;
}

function lstmEncoder(prefix: string, inSize: number, hidden: number, out: number): ParamSpec[] {
  const bound = 1 / Math.sqrt(hidden);
  const g = groupOf(prefix);
  return [
    {
      name: `${prefix}.rnn.weight_ih_l0`,
      shape: [4 * hidden, inSize],
      group: g,
      init: { kind: 'xavier_normal' },
    },
    {
      name: `${prefix}.rnn.weight_hh_l0`,
      shape: [4 * hidden, hidden],
      group: g,
      init: { kind: 'xavier_normal' },
    },
    {
      name: `${prefix}.rnn.bias_ih_l0`,
      shape: [4 * hidden],
      group: g,
      init: { kind: 'uniform', bound },
    },
    {
      name: `${prefix}.rnn.bias_hh_l0`,
      shape: [4 * hidden],
      group: g,
      init: { kind: 'uniform', bound },
    },
    ...linear(`${prefix}.linear_1`, hidden, out),
  ];
}

function mmilb(prefix: string, xSize: number, ySize: number): ParamSpec[] {
  return [
    ...linear(`${prefix}.mlp_mu.0`, xSize, ySize),
    ...linear(`${prefix}.mlp_mu.2`, ySize, ySize),
    ...linear(`${prefix}.mlp_logvar.0`, xSize, ySize),
    ...linear(`${prefix}.mlp_logvar.2`, ySize, ySize),
    ...linear(`${prefix}.entropy_prj.0`, ySize, Math.floor(ySize / 4)),
  ];
}

/**
 * Names of the CPC head's Linear layers. The reference builds [Linear(y,x), act, Linear(x,x),
 * Linear(x,x) ...] (an activation only after the first layer), so indices are 0, 2, 3, ...
 */
export function cpcLayerNames(prefix: string, layers: number): string[] {
  if (layers === 1) return [`${prefix}.net`];
  return Array.from({ length: layers }, (_, i) => `${prefix}.net.${i === 0 ? 0 : i + 1}`);
}

function cpc(prefix: string, xSize: number, ySize: number, layers: number): ParamSpec[] {
  return cpcLayerNames(prefix, layers).flatMap((name, i) =>
    linear(name, i === 0 ? ySize : xSize, xSize),
  );
}

/** Every parameter of MMIM in the reference's `named_parameters()` order. */
export function mmimParamSpecs(c: MmimConfig): ParamSpec[] {
  const { d_t, fusionIn } = derivedDims(c);
  return [
    ...bertParamSpecs(c.bert),
    ...lstmEncoder('visual_enc', c.d_vin, c.d_vh, c.d_vout),
    ...lstmEncoder('acoustic_enc', c.d_ain, c.d_ah, c.d_aout),
    ...mmilb('mi_tv', d_t, c.d_vout),
    ...mmilb('mi_ta', d_t, c.d_aout),
    ...(c.add_va ? mmilb('mi_va', c.d_vout, c.d_aout) : []),
    ...cpc('cpc_zt', d_t, c.d_prjh, c.cpc_layers),
    ...cpc('cpc_zv', c.d_vout, c.d_prjh, c.cpc_layers),
    ...cpc('cpc_za', c.d_aout, c.d_prjh, c.cpc_layers),
    ...linear('fusion_prj.linear_1', fusionIn, c.d_prjh),
    ...linear('fusion_prj.linear_2', c.d_prjh, c.d_prjh),
    ...linear('fusion_prj.linear_3', c.d_prjh, c.n_class),
  ];
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Fill one parameter as the reference initialises it (Xavier-normal for 2+ dims outside BERT). */
export function initialValue(spec: ParamSpec, rng: SeededRandom): Float32Array {
  const out = new Float32Array(sizeOf(spec.shape));
  const init = spec.init;
  switch (init.kind) {
    case 'xavier_normal': {
      const [fanOut = 1, fanIn = 1] = spec.shape;
      const std = Math.sqrt(2 / (fanIn + fanOut));
      for (let i = 0; i < out.length; i++) out[i] = rng.normal() * std;
      break;
    }
    case 'normal':
      for (let i = 0; i < out.length; i++) out[i] = rng.normal() * init.std;
      break;
    case 'uniform':
      for (let i = 0; i < out.length; i++) out[i] = (rng.uniform() * 2 - 1) * init.bound;
      break;
    case 'constant':
      out.fill(init.value);
      break;
  }
  return out;
}

/** A full set of initial values, seeded: the same seed gives the same model everywhere. */
export function initialStateDict(
  specs: readonly ParamSpec[],
  seed: number,
): Map<ParamName, Float32Array> {
  const rng = new SeededRandom(seed);
  const out = new Map<ParamName, Float32Array>();
  for (const spec of specs) out.set(spec.name, initialValue(spec, rng));
  return out;
}

/**
 * Which BERT parameters train: all by default (as the reference); `freeze` none;
 * `trainable_layers: N` only the top N encoder layers (embeddings frozen when N < all).
 */
export function isBertParamTrainable(name: ParamName, c: MmimConfig): boolean {
  if (!name.startsWith(BERT_PREFIX)) return true;
  if (c.text_encoder.freeze) return false;
  const n = c.text_encoder.trainable_layers;
  const total = c.bert.num_hidden_layers;
  if (n === null || n >= total) return true;
  const m = /encoder\.layer\.(\d+)\./.exec(name);
  if (m) return Number(m[1]) >= total - n;
  // Embeddings are frozen when only some layers train; the pooler never gets a gradient anyway.
  return false;
}
