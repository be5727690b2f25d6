/**
 * Parity with the authors' PyTorch MMIM (fixtures from parity/generate_fixtures.py, float64):
 * forward terms within 1e-5 relative, every gradient within 1e-4 relative to its norm, and the
 * parameters after 3 stage-0 + 3 stage-1 steps (+ epoch 2's first stage-0 step) within 1e-4.
 *
 * One suite for every backend (parity.test.ts: wasm or MMIM_TEST_BACKEND; parity-webgpu.test.ts:
 * webgpu). Every read is asynchronous, as the GPU backends require.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendChoice } from '@mmim/runtime';
import { setBackendProfileOverride, type BackendProfile } from '../kernels/registry.js';
import { MmimModel } from '../model.js';
import { disposeMemory, entropyTerm, type EntropyMemory } from '../layers/entropy.js';
import { TwoStageStepper } from '../stepper.js';
import type { PairName } from '../model.js';
import {
  initialState,
  loadFixture,
  maxAbsDiff,
  parityBatch,
  parityConfig,
  relativeError,
  scalar,
  values,
} from './parity-fixtures.js';

const init = await loadFixture('init.safetensors');
const batches = await loadFixture('batches.safetensors');
const forward = await loadFixture('forward.safetensors');
const train = await loadFixture('train.safetensors');
const cfg = parityConfig(init);

async function read(t: tf.Tensor): Promise<Float32Array> {
  return Float32Array.from((await t.data()) as Float32Array);
}

function assertClose(
  name: string,
  ours: ArrayLike<number>,
  ref: ArrayLike<number>,
  tol: number,
): void {
  const err = relativeError(ours, ref);
  assert.ok(err <= tol, `${name}: relative error ${err.toExponential(2)} > ${tol}`);
}

async function gradsOf(
  model: MmimModel,
  f: () => tf.Scalar,
): Promise<{ value: number; grads: Map<string, Float32Array> }> {
  const { value, grads } = tf.variableGrads(f, model.trainableVariables());
  const out = new Map<string, Float32Array>();
  for (const [k, g] of Object.entries(grads)) {
    out.set(model.paramOfVariable(k), await read(g));
    g.dispose();
  }
  const v = (await read(value))[0] ?? Number.NaN;
  value.dispose();
  return { value: v, grads: out };
}

/**
 * Each gradient within 1e-4 of its own norm. A gradient that is mathematically zero (BERT's
 * attention key bias: softmax ignores a per-query constant) is float noise on both sides, so the
 * norm used is floored at 1e-6 of the whole gradient's norm.
 */
function checkGrads(prefix: string, grads: Map<string, Float32Array>): void {
  const expected = [...forward.tensors.keys()]
    .filter((k) => k.startsWith(`${prefix}.grad.`))
    .map((k) => k.slice(prefix.length + 6));
  assert.deepEqual(
    [...grads.keys()].sort(),
    expected.sort(),
    `${prefix}: parameters that receive a gradient`,
  );
  const norm = (a: ArrayLike<number>): number =>
    Math.sqrt(Array.from(a).reduce((s, x) => s + x * x, 0));
  const globalNorm = Math.sqrt(
    expected.reduce((s, n) => s + norm(values(forward, `${prefix}.grad.${n}`)) ** 2, 0),
  );
  for (const name of expected) {
    const ref = values(forward, `${prefix}.grad.${name}`);
    const ours = grads.get(name) ?? new Float32Array(0);
    const diff = norm(Array.from(ours, (x, i) => x - (ref[i] ?? 0)));
    const err = diff / Math.max(norm(ref), 1e-6 * globalNorm);
    assert.ok(
      ours.length === ref.length && err <= 1e-4,
      `${prefix} grad ${name}: relative error ${err.toExponential(2)} > 1e-4`,
    );
  }
}

export function paritySuite(backend: BackendChoice, profile?: Partial<BackendProfile>): void {
  const label = profile === undefined ? backend : `${backend}, ${JSON.stringify(profile)}`;
  describe(`parity with the PyTorch reference (${label})`, () => {
    before(async () => {
      await initBackend({ backend });
      setBackendProfileOverride(profile ?? null);
    });
    after(() => setBackendProfileOverride(null));

    it('stage 0: lld and the gradients of -lld', async () => {
      const model = new MmimModel(cfg.model, initialState(init));
      const batch = parityBatch(batches, 0);
      const parts: Record<string, tf.Tensor> = {};
      const { value, grads } = await gradsOf(model, () => {
        const t = model.forward(batch, { dropout: null, withProjections: false });
        parts.tv = tf.keep(t.lldParts.tv as tf.Scalar);
        parts.ta = tf.keep(t.lldParts.ta as tf.Scalar);
        return tf.neg(t.lld) as tf.Scalar;
      });
      const tv = (await read(parts.tv as tf.Tensor))[0] ?? NaN;
      const ta = (await read(parts.ta as tf.Tensor))[0] ?? NaN;
      tf.dispose(Object.values(parts));
      assertClose('s0.lld', [-value], [scalar(forward, 's0.lld')], 1e-5);
      assertClose('s0.lld_tv', [tv], [scalar(forward, 's0.lld_tv')], 1e-5);
      assertClose('s0.lld_ta', [ta], [scalar(forward, 's0.lld_ta')], 1e-5);
      checkGrads('s0', grads);
      model.dispose();
    });

    it('stage 1: every forward term, H with the memory, and the gradients of the full loss', async () => {
      const model = new MmimModel(cfg.model, initialState(init));
      const b0 = parityBatch(batches, 0);
      const b1 = parityBatch(batches, 1);
      const memory: Partial<Record<PairName, EntropyMemory>> = {};
      tf.tidy(() => {
        const t0 = model.forward(b0, { dropout: null, withProjections: true });
        for (const [pair, z] of Object.entries(t0.projections) as [PairName, tf.Tensor2D][]) {
          memory[pair] = entropyTerm(z, b0.labels, null, 0).next;
        }
      });
      for (const pair of ['tv', 'ta'] as const) {
        const m = memory[pair];
        if (m === undefined) throw new Error(`no memory for ${pair}`);
        assertClose(
          `mem ${pair} pos`,
          await read(m.pos),
          values(forward, `s1.mem.${pair}.pos`),
          1e-5,
        );
        assertClose(
          `mem ${pair} neg`,
          await read(m.neg),
          values(forward, `s1.mem.${pair}.neg`),
          1e-5,
        );
      }
      const recorded: Record<string, tf.Tensor> = {};
      const o = cfg.optimization;
      const next: Partial<Record<PairName, EntropyMemory>> = {};
      const { value, grads } = await gradsOf(model, () => {
        const t = model.forward(b1, { dropout: null, withProjections: true });
        const H: Record<string, tf.Scalar> = {};
        for (const [pair, z] of Object.entries(t.projections) as [PairName, tf.Tensor2D][]) {
          const r = entropyTerm(z, b1.labels, memory[pair] ?? null, 0);
          next[pair] = r.next;
          if (r.H === null || r.ok === null) throw new Error('H missing');
          recorded[`ok_${pair}`] = tf.keep(r.ok);
          H[pair] = r.H;
        }
        const Hsum = tf.add(H.tv as tf.Scalar, H.ta as tf.Scalar);
        const yLoss = tf.mean(tf.abs(tf.sub(tf.reshape(t.preds, [-1]), tf.tensor1d(b1.labels))));
        const record = (k: string, x: tf.Tensor): void => {
          recorded[k] = tf.keep(x);
        };
        record('text', t.text);
        record('visual', t.visual);
        record('acoustic', t.acoustic);
        record('fusion', t.fusion);
        record('preds', t.preds);
        record('lld', t.lld);
        record('lld_tv', t.lldParts.tv as tf.Scalar);
        record('lld_ta', t.lldParts.ta as tf.Scalar);
        record('nce', t.nce);
        record('nce_t', t.nceParts.t);
        record('nce_v', t.nceParts.v);
        record('nce_a', t.nceParts.a);
        record('H', Hsum);
        record('H_tv', H.tv as tf.Scalar);
        record('H_ta', H.ta as tf.Scalar);
        record('y_loss', yLoss);
        return tf.sub(
          tf.sub(tf.add(yLoss, tf.mul(t.nce, o.alpha)), tf.mul(t.lld, o.beta)),
          tf.mul(Hsum, o.beta),
        ) as tf.Scalar;
      });
      for (const [k, t] of Object.entries(recorded)) {
        const v = await read(t);
        if (k.startsWith('ok_'))
          assert.equal(v[0], 1, `${k}: the covariances are positive definite`);
        else assertClose(`s1.${k}`, v, values(forward, `s1.${k}`), 1e-5);
      }
      tf.dispose(Object.values(recorded));
      disposeMemory(memory);
      disposeMemory(next);
      assertClose('s1.loss', [value], [scalar(forward, 's1.loss')], 1e-5);
      checkGrads('s1', grads);
      model.dispose();
    });

    it('training: 3 stage-0 steps, 3 stage-1 steps, then epoch 2 first stage-0 step', async () => {
      const model = new MmimModel(cfg.model, initialState(init));
      const stepper = new TwoStageStepper(model, cfg.optimization);
      const batchList = [0, 1, 2].map((i) => parityBatch(batches, i));
      const checkState = async (prefix: string): Promise<void> => {
        for (const [name, v] of await model.readStateDict()) {
          const ref = values(train, `${prefix}.${name}`);
          const diff = maxAbsDiff(v, ref);
          assert.ok(diff <= 1e-4, `${prefix} ${name}: max |diff| ${diff.toExponential(2)} > 1e-4`);
        }
      };
      const refLoss0 = values(train, 'stage0.loss');
      const refNorm0 = values(train, 'stage0.grad_norm');
      stepper.beginStage(0);
      for (const [i, b] of batchList.entries()) {
        const r = await stepper.step(b);
        assertClose(`stage0 loss ${i}`, [r.loss], [refLoss0[i] ?? NaN], 1e-5);
        assertClose(`stage0 grad norm ${i}`, [r.gradNorm], [refNorm0[i] ?? NaN], 1e-4);
      }
      await checkState('after_stage0');
      const refLoss1 = values(train, 'stage1.loss');
      const refNorm1 = values(train, 'stage1.grad_norm');
      stepper.beginStage(1);
      for (const [i, b] of batchList.entries()) {
        const r = await stepper.step(b);
        assertClose(`stage1 loss ${i}`, [r.loss], [refLoss1[i] ?? NaN], 1e-5);
        assertClose(`stage1 grad norm ${i}`, [r.gradNorm], [refNorm1[i] ?? NaN], 1e-4);
      }
      await checkState('after_stage1');
      stepper.beginStage(0);
      const r = await stepper.step(batchList[0] as (typeof batchList)[number]);
      assertClose('epoch2 loss', [r.loss], [scalar(train, 'epoch2_step0.loss')], 1e-5);
      assertClose(
        'epoch2 grad norm',
        [r.gradNorm],
        [scalar(train, 'epoch2_step0.grad_norm')],
        1e-4,
      );
      await checkState('after_epoch2_step0');
      stepper.dispose();
      model.dispose();
    });
  });
}
