/**
 * Adam exactly as torch.optim.Adam (1.x, amsgrad off) applies it, on host Float32Arrays:
 * L2 weight decay is ADDED TO THE GRADIENT (not decoupled as in AdamW), the step count is per
 * parameter, and a parameter whose gradient is None (never computed) is skipped entirely: no
 * moment update, no decay. The rules live once in AdamRules; TorchAdam applies them to host
 * arrays (cpu, wasm) and DeviceAdam (device-adam.ts) to tensors on the backend (GPU).
 */
import type { ParamName } from '../params.js';

export interface AdamHyper {
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
}

export const ADAM_DEFAULTS = { beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;

/** Per-parameter state, as torch keeps it: exp_avg, exp_avg_sq, step. */
export interface AdamSlot {
  m: Float32Array;
  v: Float32Array;
  step: number;
}

/**
 * One Adam update of `param` in place, for step `slot.step` (already counted by the caller:
 * AdamRules). `grad`, `slot.m` and `slot.v` are indexed like `param`.
 */
export function adamUpdate(
  param: Float32Array,
  grad: Float32Array,
  slot: AdamSlot,
  h: AdamHyper,
  gradScale = 1,
): void {
  const { weightDecay: wd, beta1: b1, beta2: b2, eps } = h;
  const { stepSize, bc2Sqrt } = biasCorrection(h, slot.step);
  const { m, v } = slot;
  for (let i = 0; i < param.length; i++) {
    const p = param[i] ?? 0;
    const g = (grad[i] ?? 0) * gradScale + wd * p;
    const mi = b1 * (m[i] ?? 0) + (1 - b1) * g;
    const vi = b2 * (v[i] ?? 0) + (1 - b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = p - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + eps);
  }
}

export interface AdamGroup {
  /** 'bert', 'main' or 'mmilb': the reference's parameter groups. */
  name: string;
  params: ParamName[];
  lr: number;
  weightDecay: number;
}

/** Serialisable optimiser state (moments per parameter, step counts, learning rates). */
export interface AdamState {
  groups: { name: string; lr: number; weightDecay: number; params: ParamName[] }[];
  slots: Map<ParamName, AdamSlot>;
}

/** What the trainer, checkpoints and schedulers need of either optimiser (host or device). */
export interface AdamOptimizer {
  readonly groups: AdamGroup[];
  /** Every parameter this optimiser steps. */
  params(): ParamName[];
  setLr(group: string, lr: number): void;
  /** Steps taken by a parameter (undefined: never stepped, i.e. no state yet). */
  stepCount(name: ParamName): number | undefined;
  /** Host copies of the per-parameter state (for checkpoints). */
  readSlots(): Promise<Map<ParamName, AdamSlot>>;
  /** Replace the per-parameter state (resuming from a checkpoint). */
  writeSlots(slots: Map<ParamName, AdamSlot>): void;
  dispose(): void;
}

/**
 * torch.optim.Adam's bookkeeping, the ONE definition both optimisers use: groups with their own
 * lr and weight decay, a per-parameter step count, and a parameter whose gradient is None
 * (undefined here) skipped entirely (no moment update, no decay, step count unchanged). How a
 * slot is stored and updated is the subclass's (host arrays or device tensors).
 */
export abstract class AdamRules<Grad, Slot extends { step: number }> {
  readonly groups: AdamGroup[];
  readonly slots = new Map<ParamName, Slot>();
  protected readonly betas: { beta1: number; beta2: number; eps: number };

  constructor(groups: AdamGroup[], betas: Partial<typeof ADAM_DEFAULTS> = {}) {
    for (const g of groups) {
      if (!(g.lr >= 0)) throw new Error(`Adam group '${g.name}': lr must be >= 0, got ${g.lr}`);
      if (!(g.weightDecay >= 0))
        throw new Error(`Adam group '${g.name}': weight decay must be >= 0`);
    }
    this.groups = groups.map((g) => ({ ...g, params: [...g.params] }));
    this.betas = { ...ADAM_DEFAULTS, ...betas };
  }

  params(): ParamName[] {
    return this.groups.flatMap((g) => g.params);
  }

  setLr(group: string, lr: number): void {
    const g = this.groups.find((x) => x.name === group);
    if (g === undefined) throw new Error(`Adam has no group '${group}'`);
    g.lr = lr;
  }

  stepCount(name: ParamName): number | undefined {
    return this.slots.get(name)?.step;
  }

  /**
   * Calls `update` for every parameter with a gradient, in group order, after incrementing its
   * step count (a new slot starts at 0). Returns the names it stepped.
   */
  protected forEachStepped(
    grads: Map<ParamName, Grad | undefined>,
    newSlot: (name: ParamName) => Slot,
    update: (name: ParamName, grad: Grad, slot: Slot, hyper: AdamHyper) => void,
  ): ParamName[] {
    const changed: ParamName[] = [];
    for (const g of this.groups) {
      const hyper: AdamHyper = { lr: g.lr, weightDecay: g.weightDecay, ...this.betas };
      for (const name of g.params) {
        const grad = grads.get(name);
        if (grad === undefined) continue;
        let slot = this.slots.get(name);
        if (slot === undefined) {
          slot = newSlot(name);
          this.slots.set(name, slot);
        }
        slot.step += 1;
        update(name, grad, slot, hyper);
        changed.push(name);
      }
    }
    return changed;
  }

  /** Undo the step counts of `names` (a device step whose update was masked out). */
  rollback(names: readonly ParamName[]): void {
    for (const name of names) {
      const slot = this.slots.get(name);
      if (slot !== undefined) slot.step -= 1;
    }
  }
}

/** Bias corrections of step `step` as torch computes them (Python floats: float64). */
export function biasCorrection(h: AdamHyper, step: number): { stepSize: number; bc2Sqrt: number } {
  return { stepSize: h.lr / (1 - h.beta1 ** step), bc2Sqrt: Math.sqrt(1 - h.beta2 ** step) };
}

/** torch.optim.Adam with parameter groups, stepping host arrays. */
export class TorchAdam extends AdamRules<Float32Array, AdamSlot> implements AdamOptimizer {
  /**
   * Step every parameter that has a gradient (undefined = None: skipped). `gradScale` is the
   * clipping factor, applied to the raw gradient before weight decay as clip_grad_norm_ does.
   * Returns the names it changed.
   */
  step(
    values: Map<ParamName, Float32Array>,
    grads: Map<ParamName, Float32Array | undefined>,
    gradScale = 1,
  ): ParamName[] {
    return this.forEachStepped(
      grads,
      (name) => {
        const n = values.get(name)?.length ?? 0;
        return { m: new Float32Array(n), v: new Float32Array(n), step: 0 };
      },
      (name, grad, slot, hyper) => {
        const param = values.get(name);
        if (param === undefined) throw new Error(`Adam: no value for parameter '${name}'`);
        adamUpdate(param, grad, slot, hyper, gradScale);
      },
    );
  }

  async readSlots(): Promise<Map<ParamName, AdamSlot>> {
    return new Map([...this.slots].map(([k, s]) => [k, { ...s }]));
  }

  writeSlots(slots: Map<ParamName, AdamSlot>): void {
    this.slots.clear();
    for (const [name, s] of slots)
      this.slots.set(name, { m: Float32Array.from(s.m), v: Float32Array.from(s.v), step: s.step });
  }

  dispose(): void {
    this.slots.clear();
  }
}
