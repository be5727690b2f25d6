/**
 * MMIM (MultiModal InfoMax) in TensorFlow.js: parameters as tf.Variables under the reference's
 * state-dict names, with a host (Float32Array) copy. With a host optimiser (wasm, cpu) the host
 * copy is the master that Adam updates and uploads; with a device optimiser (GPU backends) the
 * variables are the master and the host copy is refreshed on demand (`pullToHost`), so a
 * training step never reads parameters back.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MmimBatch } from './batch.js';
import { validateBatch, validateTextFeatures } from './batch.js';
import type { MmimConfig } from './config.js';
import { dropout, linear, type DropoutContext, type ParamLookup } from './layers/basic.js';
import { bertEmbeddings, bertEncoderRange } from './layers/bert.js';
import {
  entropyProjection,
  cpcNce,
  cpcPredict,
  fusionSubNet,
  l2NormalizeRows,
  mmilbLld,
} from './layers/heads.js';
import { clampLengths, lstmFinalState } from './layers/lstm.js';
import { registerModelKernels } from './kernels/registry.js';
import {
  initialStateDict,
  isBertParamTrainable,
  mmimParamSpecs,
  sizeOf,
  type ParamName,
  type ParamSpec,
} from './params.js';

/** The MMILB pairs: (x, y) = (text, visual), (text, acoustic), optionally (visual, acoustic). */
export type PairName = 'tv' | 'ta' | 'va';

/** Everything one forward pass produces (tensors owned by the caller's scope). */
export interface MmimTerms {
  text: tf.Tensor2D;
  visual: tf.Tensor2D;
  acoustic: tf.Tensor2D;
  fusion: tf.Tensor2D;
  /** (B, 1) predicted sentiment. */
  preds: tf.Tensor2D;
  lld: tf.Scalar;
  lldParts: Partial<Record<PairName, tf.Scalar>>;
  nce: tf.Scalar;
  nceParts: { t: tf.Scalar; v: tf.Scalar; a: tf.Scalar };
  /** Entropy projections z per pair (only when asked for, i.e. in stage 1). */
  projections: Partial<Record<PairName, tf.Tensor2D>>;
  /** CPC's normalised targets and predictions per modality (B, d_m). */
  cpc: Record<'t' | 'v' | 'a', CpcVectors>;
}

export interface CpcVectors {
  x: tf.Tensor2D;
  pred: tf.Tensor2D;
}

export interface ForwardOptions {
  /** Dropout masks' source; null = evaluation mode (no dropout). */
  dropout: DropoutContext | null;
  /** Compute the entropy projections (stage 1 passes labels in the reference). */
  withProjections: boolean;
  /** Text hidden states already computed outside the gradient scope (frozen BERT layers). */
  textPrefix?: tf.Tensor2D | null;
  /** The text vector itself, computed elsewhere (micro-batched BERT); BERT is not run. */
  text?: tf.Tensor2D | null;
}

let modelCounter = 0;

export class MmimModel {
  readonly config: MmimConfig;
  readonly specs: readonly ParamSpec[];
  private readonly specByName: Map<ParamName, ParamSpec>;
  private readonly variables = new Map<ParamName, tf.Variable>();
  /**
   * Host copy of every parameter: the master for a host optimiser; behind the variables after a
   * device optimiser's step until `pullToHost()` (stateDict() refuses a stale copy).
   */
  readonly host = new Map<ParamName, Float32Array>();
  /** False while the variables hold newer values than `host` (device optimiser). */
  private hostCurrent = true;
  private readonly variableToParam = new Map<string, ParamName>();
  /** Number of BERT layers computed outside the gradient scope (frozen). */
  readonly frozenBertLayers: number;
  private readonly bertFrozenEntirely: boolean;

  constructor(config: MmimConfig, state: Map<ParamName, Float32Array>) {
    registerModelKernels();
    this.config = config;
    this.specs = mmimParamSpecs(config);
    this.specByName = new Map(this.specs.map((s) => [s.name, s]));
    const id = ++modelCounter;
    for (const spec of this.specs) {
      const value = state.get(spec.name);
      if (value === undefined) throw new Error(`missing parameter '${spec.name}'`);
      checkSize(spec, value);
      const trainable = isBertParamTrainable(spec.name, config);
      const varName = `mmim${id}/${spec.name}`;
      this.host.set(spec.name, Float32Array.from(value));
      const initial = tf.tensor(value, spec.shape);
      this.variables.set(spec.name, tf.variable(initial, trainable, varName));
      initial.dispose(); // the variable keeps its own reference to the data
      this.variableToParam.set(varName, spec.name);
    }
    const layers = config.bert.num_hidden_layers;
    const n = config.text_encoder.trainable_layers;
    this.bertFrozenEntirely = config.text_encoder.freeze;
    this.frozenBertLayers = this.bertFrozenEntirely
      ? layers
      : n === null
        ? 0
        : Math.max(0, layers - n);
  }

  /** A fresh model with the reference's initialisation, seeded. */
  static initialize(config: MmimConfig, seed: number): MmimModel {
    return new MmimModel(config, initialStateDict(mmimParamSpecs(config), seed));
  }

  readonly param: ParamLookup = (name) => {
    const v = this.variables.get(name);
    if (v === undefined) throw new Error(`MMIM has no parameter '${name}'`);
    return v;
  };

  spec(name: ParamName): ParamSpec {
    const s = this.specByName.get(name);
    if (s === undefined) throw new Error(`MMIM has no parameter '${name}'`);
    return s;
  }

  /** Variables that receive gradients. */
  trainableVariables(): tf.Variable[] {
    return [...this.variables.values()].filter((v) => v.trainable);
  }

  paramOfVariable(variableName: string): ParamName {
    const p = this.variableToParam.get(variableName);
    if (p === undefined) throw new Error(`unknown variable '${variableName}'`);
    return p;
  }

  /** The variables were updated on the device: `host` is stale until pullToHost(). */
  markDeviceAhead(): void {
    this.hostCurrent = false;
  }

  /** Whether `host` holds the current parameters. */
  get hostIsCurrent(): boolean {
    return this.hostCurrent;
  }

  /** Refresh `host` from the variables (asynchronous reads; a no-op when already current). */
  async pullToHost(): Promise<void> {
    if (this.hostCurrent) return;
    const entries = [...this.variables];
    const values = await Promise.all(entries.map(([, v]) => v.data() as Promise<Float32Array>));
    entries.forEach(([name], i) => this.host.get(name)?.set(values[i] as Float32Array));
    this.hostCurrent = true;
  }

  /** Copies of every parameter, read from the device first when needed. */
  async readStateDict(): Promise<Map<ParamName, Float32Array>> {
    await this.pullToHost();
    return this.stateDict();
  }

  /** Copy host values into the variables (after an optimiser step or a load). */
  syncToDevice(names: Iterable<ParamName>): void {
    for (const name of names) {
      const v = this.variables.get(name);
      const h = this.host.get(name);
      if (v === undefined || h === undefined) throw new Error(`MMIM has no parameter '${name}'`);
      tf.tidy(() => v.assign(tf.tensor(h, v.shape)));
    }
  }

  /** Replace parameters; with `strict` every parameter must be given and none unknown. */
  loadStateDict(state: Map<ParamName, Float32Array>, strict = true): void {
    for (const [name, value] of state) {
      const spec = this.specByName.get(name);
      if (spec === undefined) {
        if (strict) throw new Error(`checkpoint has unexpected parameter '${name}'`);
        continue;
      }
      checkSize(spec, value);
    }
    if (strict) {
      for (const spec of this.specs) {
        if (!state.has(spec.name)) throw new Error(`checkpoint lacks parameter '${spec.name}'`);
      }
    }
    if (!this.hostCurrent && !strict) {
      throw new Error(
        'loadStateDict(strict = false) after a device step: await pullToHost() first so that the ' +
          'parameters not in the state dict keep their current values',
      );
    }
    for (const [name, value] of state) {
      const h = this.host.get(name);
      if (h !== undefined) h.set(value);
    }
    this.syncToDevice([...state.keys()].filter((n) => this.host.has(n)));
    if (strict) this.hostCurrent = true;
  }

  /**
   * Copies of every parameter (reference names, PyTorch layouts). After a device optimiser's
   * step use readStateDict() (this throws rather than return stale values).
   */
  stateDict(): Map<ParamName, Float32Array> {
    if (!this.hostCurrent) {
      throw new Error(
        'the parameters live on the device (device optimiser): use await model.readStateDict()',
      );
    }
    return new Map([...this.host].map(([k, v]) => [k, Float32Array.from(v)]));
  }

  /**
   * BERT hidden states up to the first trainable layer, computed without a gradient tape (call
   * it OUTSIDE tf.variableGrads). Null when every layer trains.
   */
  textPrefix(batch: MmimBatch, drop: DropoutContext | null): tf.Tensor2D | null {
    if (this.frozenBertLayers === 0 || batch.textFeatures !== undefined) return null;
    return tf.tidy(() => {
      const inputs = this.bertInputs(batch);
      const emb = bertEmbeddings(this.param, this.config.bert, inputs, drop);
      return bertEncoderRange(
        this.param,
        this.config.bert,
        emb,
        inputs.mask,
        0,
        this.frozenBertLayers,
        drop,
      );
    });
  }

  private bertInputs(batch: MmimBatch): {
    ids: tf.Tensor2D;
    mask: tf.Tensor2D;
    types: tf.Tensor2D;
  } {
    const shape: [number, number] = [batch.size, batch.textLength];
    return {
      ids: tf.tensor2d(batch.bertIds, shape, 'int32'),
      mask: tf.tensor2d(batch.bertMask, shape, 'int32'),
      types: tf.tensor2d(batch.bertTypes, shape, 'int32'),
    };
  }

  /** True when some BERT parameter receives gradients. */
  get bertTrains(): boolean {
    return this.frozenBertLayers < this.config.bert.num_hidden_layers;
  }

  /** The text vector: [CLS] of BERT's last layer (B, d_t). */
  text(batch: MmimBatch, drop: DropoutContext | null, prefix: tf.Tensor2D | null): tf.Tensor2D {
    const c = this.config.bert;
    const inputs = this.bertInputs(batch);
    const start = prefix === null ? 0 : this.frozenBertLayers;
    const hidden = prefix ?? bertEmbeddings(this.param, c, inputs, drop);
    return bertEncoderRange(this.param, c, hidden, inputs.mask, start, c.num_hidden_layers, drop);
  }

  /** The whole forward pass of MMIM.md steps 1-6 (without the entropy, which needs memory). */
  forward(batch: MmimBatch, opts: ForwardOptions): MmimTerms {
    const c = this.config;
    validateBatch(batch, c.d_vin, c.d_ain);
    validateTextFeatures(batch, c.bert.hidden_size);
    const drop = opts.dropout;
    const prefix = opts.textPrefix ?? null;
    let text: tf.Tensor2D;
    if (opts.text !== undefined && opts.text !== null) {
      text = opts.text;
    } else if (batch.textFeatures !== undefined) {
      if (this.bertTrains)
        throw new Error('batch carries cached text features but BERT is trainable');
      text = tf.tensor2d(batch.textFeatures, [batch.size, this.config.bert.hidden_size]);
    } else if (this.bertFrozenEntirely) {
      if (prefix === null) throw new Error('frozen BERT: pass textPrefix computed by textPrefix()');
      text = prefix;
    } else {
      text = this.text(batch, drop, prefix);
    }
    const B = batch.size;
    const visualIn = tf.tensor3d(batch.visual, [B, batch.visualSteps, c.d_vin]);
    const acousticIn = tf.tensor3d(batch.acoustic, [B, batch.acousticSteps, c.d_ain]);
    const vHidden = lstmFinalState(
      this.param,
      'visual_enc',
      visualIn,
      clampLengths(batch.visualLengths, batch.visualSteps),
    );
    const aHidden = lstmFinalState(
      this.param,
      'acoustic_enc',
      acousticIn,
      clampLengths(batch.acousticLengths, batch.acousticSteps),
    );
    // The encoders' dropout is 0 in the reference for n_layer = 1; kept for n_layer > 1 configs.
    const encDrop = c.n_layer > 1;
    const visual = linear(
      this.param,
      'visual_enc.linear_1',
      dropout(vHidden, encDrop ? c.dropout_v : 0, drop, 'visual_enc.dropout'),
    );
    const acoustic = linear(
      this.param,
      'acoustic_enc.linear_1',
      dropout(aHidden, encDrop ? c.dropout_a : 0, drop, 'acoustic_enc.dropout'),
    );

    const lldParts: Partial<Record<PairName, tf.Scalar>> = {
      tv: mmilbLld(this.param, 'mi_tv', text, visual),
      ta: mmilbLld(this.param, 'mi_ta', text, acoustic),
    };
    if (c.add_va) lldParts.va = mmilbLld(this.param, 'mi_va', visual, acoustic);
    const projections: Partial<Record<PairName, tf.Tensor2D>> = {};
    if (opts.withProjections) {
      projections.tv = entropyProjection(this.param, 'mi_tv', visual);
      projections.ta = entropyProjection(this.param, 'mi_ta', acoustic);
      if (c.add_va) projections.va = entropyProjection(this.param, 'mi_va', acoustic);
    }

    const { fusion, preds } = fusionSubNet(
      this.param,
      tf.concat([text, acoustic, visual], 1),
      c.dropout_prj,
      drop,
    );
    // L2-normalised targets and predictions: what CPC couples across the batch.
    const cpcOf = (prefix: string, x: tf.Tensor2D): CpcVectors => ({
      x: l2NormalizeRows(x),
      pred: l2NormalizeRows(cpcPredict(this.param, prefix, c.cpc_layers, fusion)),
    });
    const cpc = {
      t: cpcOf('cpc_zt', text),
      v: cpcOf('cpc_zv', visual),
      a: cpcOf('cpc_za', acoustic),
    };
    const nceParts = {
      t: cpcNce(cpc.t.x, cpc.t.pred),
      v: cpcNce(cpc.v.x, cpc.v.pred),
      a: cpcNce(cpc.a.x, cpc.a.pred),
    };
    const nce = tf.addN([nceParts.t, nceParts.v, nceParts.a]) as tf.Scalar;
    const lld = tf.addN(Object.values(lldParts)) as tf.Scalar;
    return {
      text,
      visual,
      acoustic,
      fusion,
      preds,
      lld,
      lldParts,
      nce,
      nceParts,
      projections,
      cpc,
    };
  }

  /** Predictions only, in evaluation mode (no dropout), as plain numbers (read asynchronously). */
  async predict(batch: MmimBatch): Promise<Float32Array> {
    const preds = tf.tidy(() => {
      const prefix = this.textPrefix(batch, null);
      return this.forward(batch, { dropout: null, withProjections: false, textPrefix: prefix })
        .preds;
    });
    const values = Float32Array.from((await preds.data()) as Float32Array);
    preds.dispose();
    return values;
  }

  dispose(): void {
    for (const v of this.variables.values()) v.dispose();
    this.variables.clear();
  }
}

function checkSize(spec: ParamSpec, value: Float32Array): void {
  const want = sizeOf(spec.shape);
  if (value.length !== want) {
    throw new Error(
      `parameter '${spec.name}' has ${value.length} values, expected shape [${spec.shape}] (${want})`,
    );
  }
}
