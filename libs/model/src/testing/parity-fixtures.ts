/**
 * Loads the PyTorch parity fixtures (libs/model/parity/fixtures, written by
 * generate_fixtures.py) into the shapes our code uses.
 */
import { readSafetensorsFile, type SafetensorsFile } from '@mmim/runtime';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { MmimBatch } from '../batch.js';
import { resolveMmimConfig, type MmimConfig } from '../config.js';
import type { OptimizationConfig } from '../stepper.js';

export const FIXTURE_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../parity/fixtures',
);

export function loadFixture(name: string): Promise<SafetensorsFile> {
  return readSafetensorsFile(path.join(FIXTURE_DIR, name));
}

/** Tensor data as float64 numbers (throws naming the missing tensor). */
export function values(file: SafetensorsFile, name: string): Float64Array {
  const t = file.tensors.get(name);
  if (t === undefined) throw new Error(`fixture has no tensor '${name}'`);
  return Float64Array.from(t.data as ArrayLike<number>);
}

export function scalar(file: SafetensorsFile, name: string): number {
  return values(file, name)[0] ?? Number.NaN;
}

export interface ParityConfig {
  model: MmimConfig;
  optimization: OptimizationConfig;
  raw: Record<string, unknown> & { bert: Record<string, unknown> };
}

export function parityConfig(init: SafetensorsFile): ParityConfig {
  const json = init.metadata.config;
  if (json === undefined) throw new Error('init.safetensors has no config metadata');
  const raw = JSON.parse(json) as ParityConfig['raw'];
  const num = (k: string): number => Number(raw[k]);
  const model = resolveMmimConfig({
    bert: { ...raw.bert, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 },
    d_vin: raw.d_vin,
    d_ain: raw.d_ain,
    d_vh: raw.d_vh,
    d_ah: raw.d_ah,
    d_vout: raw.d_vout,
    d_aout: raw.d_aout,
    d_prjh: raw.d_prjh,
    cpc_layers: raw.cpc_layers,
    add_va: raw.add_va,
    dropout_a: 0,
    dropout_v: 0,
    dropout_prj: 0,
  });
  const optimization: OptimizationConfig = {
    lr_main: num('lr_main'),
    lr_bert: num('lr_bert'),
    lr_mmilb: num('lr_mmilb'),
    weight_decay_main: num('weight_decay_main'),
    weight_decay_bert: num('weight_decay_bert'),
    weight_decay_club: num('weight_decay_club'),
    clip: num('clip'),
    alpha: num('alpha'),
    beta: num('beta'),
    contrast: true,
    seed: 1111,
    zeroGradToNone: false,
  };
  return { model, optimization, raw };
}

export function initialState(init: SafetensorsFile): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, t] of init.tensors)
    out.set(name, Float32Array.from(t.data as ArrayLike<number>));
  return out;
}

export function parityBatch(file: SafetensorsFile, i: number): MmimBatch {
  const t = (k: string) => {
    const x = file.tensors.get(`batch${i}.${k}`);
    if (x === undefined) throw new Error(`batches fixture lacks batch${i}.${k}`);
    return x;
  };
  const ids = t('bert_ids');
  const [B = 0, L = 0] = ids.shape;
  const visual = t('visual');
  const acoustic = t('acoustic');
  return {
    size: B,
    textLength: L,
    bertIds: Int32Array.from(ids.data as ArrayLike<number>),
    bertMask: Int32Array.from(t('bert_mask').data as ArrayLike<number>),
    bertTypes: Int32Array.from(t('bert_type').data as ArrayLike<number>),
    visualSteps: visual.shape[1] ?? 0,
    visual: Float32Array.from(visual.data as ArrayLike<number>),
    visualLengths: Int32Array.from(t('vlens').data as ArrayLike<number>),
    acousticSteps: acoustic.shape[1] ?? 0,
    acoustic: Float32Array.from(acoustic.data as ArrayLike<number>),
    acousticLengths: Int32Array.from(t('alens').data as ArrayLike<number>),
    labels: Float32Array.from(t('y').data as ArrayLike<number>),
    sampleIndex: Int32Array.from({ length: B }, (_, k) => i * B + k),
  };
}

/** ||a - b|| / max(||b||, tiny): the error measure for whole tensors. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    num += d * d;
    den += (b[i] ?? 0) ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return m;
}
