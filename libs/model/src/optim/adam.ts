/**
 * Adam exactly as torch.optim.Adam (1.x, amsgrad off) applies it, on host Float32Arrays:
 * L2 weight decay is ADDED TO THE GRADIENT (not decoupled as in AdamW), the step count is per
 * parameter, and a parameter whose gradient is None (never computed) is skipped entirely: no
 * moment update, no decay. The parameter server runs the same function on its chunks.
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
 * One Adam update of `param` in place. `offset`/`length` select a range (a chunk) of the
 * parameter; `grad`, `slot.m` and `slot.v` are indexed in the same range.
 */
export function adamUpdate(
  param: Float32Array,
  grad: Float32Array,
  slot: AdamSlot,
  h: AdamHyper,
  gradScale = 1,
): void {
  slot.step += 1;
  const { lr, weightDecay: wd, beta1: b1, beta2: b2, eps } = h;
  const bc1 = 1 - b1 ** slot.step;
  const bc2Sqrt = Math.sqrt(1 - b2 ** slot.step);
  const stepSize = lr / bc1;
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

/** torch.optim.Adam with parameter groups, stepping host arrays. */
export class TorchAdam {
  readonly groups: AdamGroup[];
  readonly slots = new Map<ParamName, AdamSlot>();
  private readonly betas: { beta1: number; beta2: number; eps: number };

  constructor(groups: AdamGroup[], betas: Partial<typeof ADAM_DEFAULTS> = {}) {
    for (const g of groups) {
      if (!(g.lr >= 0)) throw new Error(`Adam group '${g.name}': lr must be >= 0, got ${g.lr}`);
      if (!(g.weightDecay >= 0))
        throw new Error(`Adam group '${g.name}': weight decay must be >= 0`);
    }
    this.groups = groups.map((g) => ({ ...g, params: [...g.params] }));
    this.betas = { ...ADAM_DEFAULTS, ...betas };
  }

  /** Every parameter this optimiser steps. */
  params(): ParamName[] {
    return this.groups.flatMap((g) => g.params);
  }

  setLr(group: string, lr: number): void {
    const g = this.groups.find((x) => x.name === group);
    if (g === undefined) throw new Error(`Adam has no group '${group}'`);
    g.lr = lr;
  }

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
    const changed: ParamName[] = [];
    for (const g of this.groups) {
      const hyper: AdamHyper = { lr: g.lr, weightDecay: g.weightDecay, ...this.betas };
      for (const name of g.params) {
        const grad = grads.get(name);
        if (grad === undefined) continue;
        const param = values.get(name);
        if (param === undefined) throw new Error(`Adam: no value for parameter '${name}'`);
        let slot = this.slots.get(name);
        if (slot === undefined) {
          slot = { m: new Float32Array(param.length), v: new Float32Array(param.length), step: 0 };
          this.slots.set(name, slot);
        }
        adamUpdate(param, grad, slot, hyper, gradScale);
        changed.push(name);
      }
    }
    return changed;
  }
}
