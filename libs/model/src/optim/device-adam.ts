/**
 * torch.optim.Adam on the backend's device: the rules of AdamRules (adam.ts) with the update as
 * tensor ops on tf.Variables, so a GPU step never reads a gradient or a parameter back.
 *
 * Two things the host path decides before stepping are tensors here: the clipping factor and
 * whether the step is finite (`ok`). Every new value is selected with `where(ok, new, old)`, so a
 * non-finite step leaves parameters and moments bit-identical; the caller learns `ok` when it
 * reads the step's report (asynchronously, after the step) and then calls `rollback` to undo the
 * step counts. The per-element arithmetic is adamUpdate's, in float32 tensor ops.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ADAM_UPDATE, type AdamUpdateAttrs } from '../kernels/adam-update.js';
import { backendProfile } from '../kernels/registry.js';
import type { ParamName } from '../params.js';
import {
  AdamRules,
  biasCorrection,
  type AdamOptimizer,
  type AdamSlot,
  type AdamHyper,
} from './adam.js';

/** A gradient on the device, or 'zero': a zero gradient (PyTorch's zeroed, not None). */
export type DeviceGrad = tf.Tensor | 'zero';

export interface DeviceAdamSlot {
  /** exp_avg, flat. */
  m: tf.Variable;
  /** exp_avg_sq, flat. */
  v: tf.Variable;
  step: number;
}

let slotCounter = 0;

export class DeviceAdam extends AdamRules<DeviceGrad, DeviceAdamSlot> implements AdamOptimizer {
  /**
   * One step on `variables` (parameter name -> its tf.Variable). `gradScale` is the clipping
   * factor (a scalar tensor), applied to the raw gradient before weight decay as
   * clip_grad_norm_ does; `ok` (a bool scalar) masks the whole update. Returns the names stepped.
   */
  step(
    variables: (name: ParamName) => tf.Variable,
    grads: Map<ParamName, DeviceGrad | undefined>,
    gradScale: tf.Scalar,
    ok: tf.Scalar,
  ): ParamName[] {
    // One kernel per output where the backend has it (kernels/adam-update.ts), else tf ops.
    const okFloat =
      backendProfile().adamUpdate === 'kernel' ? (tf.cast(ok, 'float32') as tf.Scalar) : null;
    const changed = this.forEachStepped(
      grads,
      (name) => {
        const p = variables(name);
        const id = ++slotCounter;
        return {
          m: tf.variable(tf.zeros([p.size]), false, `adam${id}/${name}/exp_avg`),
          v: tf.variable(tf.zeros([p.size]), false, `adam${id}/${name}/exp_avg_sq`),
          step: 0,
        };
      },
      (name, grad, slot, hyper) => {
        if (okFloat !== null)
          updateWithKernel(variables(name), grad, slot, hyper, gradScale, okFloat);
        else updateOnDevice(variables(name), grad, slot, hyper, gradScale, ok);
      },
    );
    okFloat?.dispose();
    return changed;
  }

  async readSlots(): Promise<Map<ParamName, AdamSlot>> {
    const out = new Map<ParamName, AdamSlot>();
    for (const [name, s] of this.slots) {
      const [m, v] = await Promise.all([s.m.data(), s.v.data()]);
      out.set(name, { m: Float32Array.from(m), v: Float32Array.from(v), step: s.step });
    }
    return out;
  }

  writeSlots(slots: Map<ParamName, AdamSlot>): void {
    this.dispose();
    for (const [name, s] of slots) {
      const id = ++slotCounter;
      this.slots.set(name, {
        m: tf.variable(tf.tensor1d(s.m), false, `adam${id}/${name}/exp_avg`),
        v: tf.variable(tf.tensor1d(s.v), false, `adam${id}/${name}/exp_avg_sq`),
        step: s.step,
      });
    }
  }

  dispose(): void {
    for (const s of this.slots.values()) tf.dispose([s.m, s.v]);
    this.slots.clear();
  }
}

function updateOnDevice(
  param: tf.Variable,
  grad: DeviceGrad,
  slot: DeviceAdamSlot,
  h: AdamHyper,
  gradScale: tf.Scalar,
  ok: tf.Scalar,
): void {
  const { stepSize, bc2Sqrt } = biasCorrection(h, slot.step);
  const { weightDecay: wd, beta1: b1, beta2: b2, eps } = h;
  tf.tidy(() => {
    const p = param as tf.Tensor;
    // Moments are stored flat (as checkpoints hold them): view them in the parameter's shape.
    const m = tf.reshape(slot.m, p.shape);
    const v = tf.reshape(slot.v, p.shape);
    const decay = wd > 0 ? tf.mul(p, wd) : null;
    let g: tf.Tensor;
    if (grad === 'zero') g = decay ?? tf.zerosLike(p);
    else {
      const scaled = tf.mul(grad, gradScale);
      g = decay === null ? scaled : tf.add(scaled, decay);
    }
    const m1 = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
    const v1 = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
    const denom = tf.add(tf.div(tf.sqrt(v1), bc2Sqrt), eps);
    const p1 = tf.sub(p, tf.mul(tf.div(m1, denom), stepSize));
    slot.m.assign(tf.reshape(tf.where(ok, m1, m), [-1]));
    slot.v.assign(tf.reshape(tf.where(ok, v1, v), [-1]));
    param.assign(tf.where(ok, p1, p));
  });
}

/** The same update as one kernel per output (kernels/adam-update.ts), where the backend has it. */
function updateWithKernel(
  param: tf.Variable,
  grad: DeviceGrad,
  slot: DeviceAdamSlot,
  h: AdamHyper,
  gradScale: tf.Scalar,
  ok: tf.Scalar,
): void {
  const { stepSize, bc2Sqrt } = biasCorrection(h, slot.step);
  const inputs = {
    param,
    grad: grad === 'zero' ? param : grad,
    m: slot.m,
    v: slot.v,
    scale: gradScale,
    ok,
  };
  const run = (output: AdamUpdateAttrs['output']): tf.Tensor => {
    const attrs: AdamUpdateAttrs = {
      output,
      hasGrad: grad !== 'zero',
      weightDecay: h.weightDecay,
      beta1: h.beta1,
      beta2: h.beta2,
      eps: h.eps,
      stepSize,
      bc2Sqrt,
    };
    return tf
      .engine()
      .runKernel(
        ADAM_UPDATE,
        inputs as unknown as tf.NamedTensorMap,
        attrs as unknown as tf.NamedAttrMap,
      ) as tf.Tensor;
  };
  tf.tidy(() => {
    // All three read the old values: compute them before assigning any.
    const [p1, m1, v1] = [run(0), run(1), run(2)];
    param.assign(tf.reshape(p1, param.shape));
    slot.m.assign(m1);
    slot.v.assign(v1);
  });
}
