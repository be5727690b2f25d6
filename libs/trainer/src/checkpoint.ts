/**
 * Training checkpoints: one safetensors file holding the model weights under the reference's
 * names (so the file is also a PyTorch state dict plus extra tensors), both optimisers' Adam
 * moments (`optimizer.<mmilb|main>.<param>.exp_avg|exp_avg_sq`), and in the metadata the trainer
 * config, the model config, the step counts, learning rates, scheduler, early-stopping and
 * selection state, the cursor (epochs done, optimiser steps) and the metrics so far. Data order
 * and dropout derive from (seed, epoch, step), so this is the whole RNG state. Written atomically
 * (temp file + fsync + rename); a torn file fails to parse and is reported with its path.
 */
import {
  readSafetensorsFile,
  writeSafetensorsFileAtomic,
  type SafetensorsTensor,
} from '@mmim/runtime';
import {
  MMIM_CONFIG_METADATA_KEY,
  OPTIMIZER_TENSOR_PREFIX,
  resolveMmimConfig,
  type AdamSlot,
  type MmimConfig,
  type ParamName,
  type AdamOptimizer,
} from '@mmim/model';
import { resolveTrainerConfig, type TrainerConfig } from './config.js';
import type { EarlyStopState, PlateauState } from './schedulers.js';
import type { EpochRecord } from './trainer.js';

export const TRAINER_STATE_METADATA_KEY = 'mmim_trainer_state';
export const CHECKPOINT_VERSION = 1;

export interface OptimizerSnapshot {
  lrs: Record<string, number>;
  steps: Record<ParamName, number>;
  moments: Map<ParamName, { m: Float32Array; v: Float32Array }>;
}

export interface TrainerState {
  version: number;
  config: TrainerConfig;
  /** Epochs completed. */
  epoch: number;
  globalStep: number;
  gradComputed: ParamName[];
  plateau: PlateauState;
  earlyStop: EarlyStopState;
  best: { epoch: number; validMae: number; testMae: number } | null;
  history: EpochRecord[];
  stopped: boolean;
}

export interface TrainingCheckpoint {
  modelConfig: MmimConfig;
  weights: Map<ParamName, { shape: number[]; data: Float32Array }>;
  optimizers: { mmilb: OptimizerSnapshot; main: OptimizerSnapshot };
  state: TrainerState;
}

export async function snapshotOptimizer(opt: AdamOptimizer): Promise<OptimizerSnapshot> {
  const steps: Record<ParamName, number> = {};
  const moments = new Map<ParamName, { m: Float32Array; v: Float32Array }>();
  for (const [name, slot] of await opt.readSlots()) {
    steps[name] = slot.step;
    moments.set(name, { m: slot.m, v: slot.v });
  }
  return { lrs: Object.fromEntries(opt.groups.map((g) => [g.name, g.lr])), steps, moments };
}

export function restoreOptimizer(opt: AdamOptimizer, snap: OptimizerSnapshot): void {
  for (const g of opt.groups) {
    const lr = snap.lrs[g.name];
    if (lr !== undefined) g.lr = lr;
  }
  const slots = new Map<ParamName, AdamSlot>();
  for (const [name, mv] of snap.moments)
    slots.set(name, { m: mv.m, v: mv.v, step: snap.steps[name] ?? 0 });
  opt.writeSlots(slots);
}

export async function saveTrainingCheckpoint(
  path: string,
  ckpt: TrainingCheckpoint,
): Promise<void> {
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, w] of ckpt.weights)
    tensors.set(name, { dtype: 'F32', shape: w.shape, data: w.data });
  const optimizerMeta: Record<
    string,
    { lrs: Record<string, number>; steps: Record<string, number> }
  > = {};
  for (const [group, snap] of Object.entries(ckpt.optimizers)) {
    optimizerMeta[group] = { lrs: snap.lrs, steps: snap.steps };
    for (const [name, mv] of snap.moments) {
      tensors.set(`${OPTIMIZER_TENSOR_PREFIX}${group}.${name}.exp_avg`, {
        dtype: 'F32',
        shape: [mv.m.length],
        data: mv.m,
      });
      tensors.set(`${OPTIMIZER_TENSOR_PREFIX}${group}.${name}.exp_avg_sq`, {
        dtype: 'F32',
        shape: [mv.v.length],
        data: mv.v,
      });
    }
  }
  await writeSafetensorsFileAtomic(path, tensors, {
    format: 'pt',
    [MMIM_CONFIG_METADATA_KEY]: JSON.stringify(ckpt.modelConfig),
    [TRAINER_STATE_METADATA_KEY]: JSON.stringify({ ...ckpt.state, optimizers: optimizerMeta }),
  });
}

export async function loadTrainingCheckpoint(path: string): Promise<TrainingCheckpoint> {
  const file = await readSafetensorsFile(path);
  const stateJson = file.metadata[TRAINER_STATE_METADATA_KEY];
  const modelJson = file.metadata[MMIM_CONFIG_METADATA_KEY];
  if (stateJson === undefined || modelJson === undefined) {
    throw new Error(
      `${path}: not a training checkpoint (no '${TRAINER_STATE_METADATA_KEY}' metadata); weights-only files go to --init`,
    );
  }
  const raw = JSON.parse(stateJson) as TrainerState & {
    optimizers: Record<
      'mmilb' | 'main',
      { lrs: Record<string, number>; steps: Record<string, number> }
    >;
  };
  if (raw.version !== CHECKPOINT_VERSION)
    throw new Error(
      `${path}: checkpoint version ${raw.version}, this build reads ${CHECKPOINT_VERSION}`,
    );
  const weights = new Map<ParamName, { shape: number[]; data: Float32Array }>();
  const moments = {
    mmilb: new Map<ParamName, { m: Float32Array; v: Float32Array }>(),
    main: new Map<ParamName, { m: Float32Array; v: Float32Array }>(),
  };
  for (const [name, t] of file.tensors) {
    const m = /^optimizer\.(mmilb|main)\.(.+)\.(exp_avg|exp_avg_sq)$/.exec(name);
    const data = Float32Array.from(t.data as Float32Array);
    if (m === null) {
      weights.set(name, { shape: [...t.shape], data });
      continue;
    }
    const group = moments[m[1] as 'mmilb' | 'main'];
    const param = m[2] ?? '';
    const entry = group.get(param) ?? { m: new Float32Array(0), v: new Float32Array(0) };
    if (m[3] === 'exp_avg') entry.m = data;
    else entry.v = data;
    group.set(param, entry);
  }
  const { optimizers: optMeta, ...state } = raw;
  return {
    modelConfig: resolveMmimConfig(JSON.parse(modelJson), `${path} model config`),
    weights,
    optimizers: {
      mmilb: { ...(optMeta.mmilb ?? { lrs: {}, steps: {} }), moments: moments.mmilb },
      main: { ...(optMeta.main ?? { lrs: {}, steps: {} }), moments: moments.main },
    },
    state: { ...state, config: resolveTrainerConfig(state.config, `${path} trainer config`) },
  };
}
