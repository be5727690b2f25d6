/**
 * Behaviour of the model and the stepper beyond parity, on one backend: no tensor leaks per step,
 * NaN never reaches the weights, a singular entropy covariance is skipped and counted, dropout
 * masks follow the sample (not the batch slice), frozen BERT layers get no gradient, micro-batched
 * BERT and update_batch. Run by model.test.ts (wasm, host optimiser), device-step.test.ts (cpu
 * with the device optimiser and the composite ops) and model-webgpu.test.ts (webgpu).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendChoice } from '@mmim/runtime';
import { setBackendProfileOverride, type BackendProfile } from '../kernels/registry.js';
import { MmimModel } from '../model.js';
import { REFERENCE_OPTIMIZATION, TwoStageStepper } from '../stepper.js';
import { randomBatch, sliceBatch } from '../synthetic.js';
import { SMALL_BATCH_SHAPE, SMALL_BERT, smallMmimConfig } from './small-model.js';

const optimization = REFERENCE_OPTIMIZATION;

const shape = SMALL_BATCH_SHAPE;

export function stepBehaviourSuite(
  backend: BackendChoice,
  profile?: Partial<BackendProfile>,
): void {
  const label = profile === undefined ? backend : `${backend}, ${JSON.stringify(profile)}`;
  describe(`MMIM model and stepper (${label})`, () => {
    before(async () => {
      await initBackend({ backend });
      setBackendProfileOverride(profile ?? null);
    });
    after(() => setBackendProfileOverride(null));

    it('keeps tf.memory() flat over 24 training steps of both stages after a warm-up pass', async () => {
      const c = smallMmimConfig();
      const model = MmimModel.initialize(c, 1);
      const stepper = new TwoStageStepper(model, optimization);
      const batches = [0, 1, 2, 3].map((i) =>
        randomBatch(c, { ...shape, firstSampleIndex: i * 16 }, i),
      );
      // One cycle = a stage-0 pass and a stage-1 pass (4 steps each). The first creates the
      // optimisers' state; after it, each position of a cycle must hold exactly as many tensors
      // and bytes as the same position of every other cycle (the entropy memory exists only in
      // stage 1, so counts differ between positions, never between cycles).
      const cycles: { counts: number[]; bytes: number[] }[] = [];
      for (let cycle = 0; cycle < 4; cycle++) {
        const seen = { counts: [] as number[], bytes: [] as number[] };
        for (const stage of [0, 1] as const) {
          stepper.beginStage(stage);
          for (const b of batches) {
            const r = await stepper.step(b);
            assert.ok(Number.isFinite(r.loss));
            seen.counts.push(tf.memory().numTensors);
            seen.bytes.push(tf.memory().numBytes);
          }
        }
        cycles.push(seen);
      }
      const [, first, ...rest] = cycles;
      for (const later of rest) {
        assert.deepEqual(later.counts, first?.counts, 'tensor counts per step position');
        assert.deepEqual(later.bytes, first?.bytes, 'bytes per step position');
      }
      stepper.dispose();
      model.dispose();
    });

    it('skips a step whose gradient is not finite and leaves weights and moments untouched', async () => {
      const c = smallMmimConfig();
      const model = MmimModel.initialize(c, 2);
      const stepper = new TwoStageStepper(model, optimization);
      stepper.beginStage(1);
      const good = randomBatch(c, shape, 5);
      await stepper.step(good);
      const before = await model.readStateDict();
      const slotsBefore = stepper.mainOptimizer.stepCount('fusion_prj.linear_1.weight');
      const momentsBefore = await stepper.mainOptimizer.readSlots();
      const bad = randomBatch(c, shape, 6);
      bad.visual[3] = Number.NaN;
      const r = await stepper.step(bad);
      assert.equal(r.skippedNonFinite, true);
      assert.equal(r.stepped, false);
      for (const [name, v] of await model.readStateDict()) {
        assert.deepEqual(v, before.get(name), `parameter ${name} changed on a skipped step`);
      }
      assert.equal(stepper.mainOptimizer.stepCount('fusion_prj.linear_1.weight'), slotsBefore);
      for (const [name, slot] of await stepper.mainOptimizer.readSlots()) {
        assert.deepEqual(slot, momentsBefore.get(name), `moments of ${name} changed`);
      }
      // And the next finite step trains again.
      const next = await stepper.step(randomBatch(c, shape, 7));
      assert.equal(next.stepped, true);
      stepper.dispose();
      model.dispose();
    });

    it('drops H when a class covariance is singular, counts it, and keeps the loss finite', async () => {
      const c = smallMmimConfig();
      const model = MmimModel.initialize(c, 3);
      const stepper = new TwoStageStepper(model, optimization);
      stepper.beginStage(1);
      // One negative sample per batch: Σ_neg from 2 rows in 4 dims is singular.
      const batches = [0, 1, 2].map((i) => {
        const b = randomBatch(c, shape, 10 + i);
        b.labels.fill(1.5);
        b.labels[0] = -1;
        return b;
      });
      const reports = [];
      for (const b of batches) reports.push(await stepper.step(b));
      assert.equal(reports[0]?.entropySkipped, 0, 'no memory yet on the first batch');
      assert.ok((reports[2]?.entropySkipped ?? 0) > 0);
      assert.equal(reports[2]?.H, null);
      for (const r of reports) assert.ok(Number.isFinite(r.loss) && !r.skippedNonFinite);
      for (const v of (await model.readStateDict()).values()) assert.ok(v.every(Number.isFinite));
      stepper.dispose();
      model.dispose();
    });

    it('draws the same dropout masks for a sample whichever batch slice holds it', async () => {
      const c = smallMmimConfig();
      const model = MmimModel.initialize(c, 4);
      const batch = randomBatch(c, shape, 21);
      const drop = (b: typeof batch) => ({ seed: 9, step: 3, sampleIndex: b.sampleIndex });
      const predsOf = async (b: typeof batch): Promise<Float32Array> => {
        const t = tf.tidy(
          () => model.forward(b, { dropout: drop(b), withProjections: false }).preds,
        );
        const v = Float32Array.from((await t.data()) as Float32Array);
        t.dispose();
        return v;
      };
      const whole = await predsOf(batch);
      const first = sliceBatch(batch, 0, 6, c.d_vin, c.d_ain);
      const rest = sliceBatch(batch, 6, 16, c.d_vin, c.d_ain);
      const parts = [...(await predsOf(first)), ...(await predsOf(rest))];
      parts.forEach((p, i) =>
        assert.ok(Math.abs(p - (whole[i] ?? NaN)) < 1e-5, `sample ${i}: ${p} vs ${whole[i]}`),
      );
      // And dropout is really on: evaluation mode gives other predictions.
      const evalPreds = await model.predict(batch);
      assert.ok(evalPreds.some((p, i) => Math.abs(p - (whole[i] ?? NaN)) > 1e-4));
      model.dispose();
    });

    it('trains only the top BERT layers with trainable_layers, and none with freeze', async () => {
      const base = smallMmimConfig({
        bert: { ...SMALL_BERT, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 },
      });
      const all = MmimModel.initialize(base, 5);
      const batch = randomBatch(base, shape, 31);
      const top = new MmimModel(
        smallMmimConfig({ bert: base.bert, text_encoder: { trainable_layers: 1 } }),
        all.stateDict(),
      );
      const frozen = new MmimModel(
        smallMmimConfig({ bert: base.bert, text_encoder: { freeze: true } }),
        all.stateDict(),
      );
      const gradNames = (m: MmimModel): string[] => {
        const prefix = m.textPrefix(batch, null);
        const { value, grads } = tf.variableGrads(() => {
          const t = m.forward(batch, { dropout: null, withProjections: false, textPrefix: prefix });
          return tf.add(tf.sum(t.preds), t.nce) as tf.Scalar;
        }, m.trainableVariables());
        prefix?.dispose();
        value.dispose();
        const names = Object.keys(grads).map((k) => m.paramOfVariable(k));
        tf.dispose(grads);
        return names;
      };
      const bertNames = (names: string[]) => names.filter((n) => n.includes('bertmodel'));
      assert.ok(bertNames(gradNames(all)).some((n) => n.includes('embeddings')));
      const topBert = bertNames(gradNames(top));
      assert.ok(
        topBert.length > 0 && topBert.every((n) => n.includes('encoder.layer.1.')),
        topBert.join(','),
      );
      assert.deepEqual(bertNames(gradNames(frozen)), []);
      // Freezing changes what trains, not what the model computes.
      const p = await all.predict(batch);
      (await top.predict(batch)).forEach((x, i) => assert.ok(Math.abs(x - (p[i] ?? NaN)) < 1e-5));
      (await frozen.predict(batch)).forEach((x, i) =>
        assert.ok(Math.abs(x - (p[i] ?? NaN)) < 1e-5),
      );
      [all, top, frozen].forEach((m) => m.dispose());
    });

    it('micro-batched BERT gives the same step as the whole batch, and leaks nothing', async () => {
      const c = smallMmimConfig();
      const whole = MmimModel.initialize(c, 8);
      const micro = new MmimModel(c, whole.stateDict());
      const a = new TwoStageStepper(whole, optimization);
      const b = new TwoStageStepper(micro, { ...optimization, textMicroBatch: 5 });
      const batches = [0, 1, 2].map((i) =>
        randomBatch(c, { ...shape, firstSampleIndex: i * 16 }, 40 + i),
      );
      const counts: number[] = [];
      for (const stage of [0, 1] as const) {
        a.beginStage(stage);
        b.beginStage(stage);
        for (const batch of batches) {
          const ra = await a.step(batch);
          const rb = await b.step(batch);
          assert.ok(
            Math.abs(ra.loss - rb.loss) <= 1e-5 * Math.max(1, Math.abs(ra.loss)),
            `loss ${ra.loss} vs ${rb.loss}`,
          );
          assert.ok(
            Math.abs(ra.gradNorm - rb.gradNorm) <= 1e-4 * ra.gradNorm,
            `grad norm ${ra.gradNorm} vs ${rb.gradNorm}`,
          );
          if (stage === 1) counts.push(tf.memory().numTensors);
        }
      }
      const microState = await micro.readStateDict();
      for (const [name, v] of await whole.readStateDict()) {
        const w = microState.get(name) ?? new Float32Array(0);
        let worst = 0;
        v.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - (w[i] ?? NaN)))));
        assert.ok(worst <= 2e-5, `${name}: max |diff| ${worst}`);
      }
      // Stage 1 keeps the entropy memory from its first batch on: count from the second.
      assert.ok(
        counts.slice(1).every((n) => n === counts[1]),
        `tensor counts ${counts.join(',')}`,
      );
      [a, b].forEach((s) => s.dispose());
      [whole, micro].forEach((m) => m.dispose());
    });

    it('without contrast, stage 1 trains on the L1 loss alone', async () => {
      const c = smallMmimConfig();
      const model = MmimModel.initialize(c, 9);
      const stepper = new TwoStageStepper(model, { ...optimization, contrast: false });
      assert.throws(() => stepper.beginStage(0), /contrast/);
      stepper.beginStage(1);
      const counts: number[] = [];
      for (const i of [0, 1, 2, 3]) {
        const r = await stepper.step(randomBatch(c, shape, 60 + i));
        assert.equal(r.loss, r.yLoss);
        assert.equal(r.H, null);
        counts.push(tf.memory().numTensors);
      }
      // The first step creates the optimiser's state.
      assert.ok(
        counts.slice(1).every((n) => n === counts[1]),
        `tensor counts ${counts.join(',')}`,
      );
      stepper.dispose();
      model.dispose();
    });

    it('update_batch sums the gradients of k batches into one step', async () => {
      const c = smallMmimConfig({
        bert: { ...SMALL_BERT, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 },
        dropout_prj: 0,
      });
      const a = MmimModel.initialize(c, 12);
      const b = new MmimModel(c, a.stateDict());
      const accumulating = new TwoStageStepper(a, {
        ...optimization,
        updateBatch: 2,
        contrast: false,
      });
      const b1 = randomBatch(c, shape, 70);
      const b2 = randomBatch(c, { ...shape, firstSampleIndex: 16 }, 71);
      accumulating.beginStage(1);
      const r1 = await accumulating.step(b1);
      assert.equal(r1.stepped, false);
      assert.deepEqual(
        (await a.readStateDict()).get('fusion_prj.linear_3.weight'),
        b.host.get('fusion_prj.linear_3.weight'),
      );
      const r2 = await accumulating.step(b2);
      assert.equal(r2.stepped, true);
      // One step on the summed gradient equals one step on a batch whose loss is the sum of both
      // batches' mean losses: build that gradient by hand from the two batches.
      const { grads: g1 } = tf.variableGrads(() => lossOf(b, b1), b.trainableVariables());
      const { grads: g2 } = tf.variableGrads(() => lossOf(b, b2), b.trainableVariables());
      const w = 'fusion_prj.linear_3.weight';
      const vname = b.trainableVariables().find((v) => b.paramOfVariable(v.name) === w)?.name ?? '';
      const sum = tf.add(g1[vname] as tf.Tensor, g2[vname] as tf.Tensor);
      tf.dispose([g1, g2]);
      assert.ok(Math.abs(r2.gradNorm) > 0);
      // The accumulated step moved the weight in the direction of -sum (Adam's first step: -lr*sign).
      const after = (await a.readStateDict()).get(w) ?? new Float32Array(0);
      const moved = Array.from(after, (x, i) => x - (b.host.get(w)?.[i] ?? 0));
      const s = await sum.data();
      let compared = 0;
      moved.forEach((d, i) => {
        if (Math.abs(s[i] ?? 0) > 1e-6) {
          compared++;
          assert.equal(Math.sign(d), -Math.sign(s[i] ?? 0), `element ${i}`);
        }
      });
      assert.ok(compared > 0, 'some elements of the summed gradient are non-zero');
      sum.dispose();
      accumulating.dispose();
      [a, b].forEach((m) => m.dispose());
    });
  });
}

function lossOf(m: MmimModel, batch: ReturnType<typeof randomBatch>): tf.Scalar {
  const t = m.forward(batch, { dropout: null, withProjections: false });
  return tf.mean(tf.abs(tf.sub(tf.reshape(t.preds, [-1]), tf.tensor1d(batch.labels)))) as tf.Scalar;
}
