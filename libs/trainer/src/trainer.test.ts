/**
 * The training procedure: resume equals an uninterrupted run bit for bit, checkpoints are
 * complete and atomic, a NaN in the data never reaches the weights, and the selection rules.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '@mmim/runtime';
import { loadMmimWeights } from '@mmim/model';
import { resolveTrainerConfig } from './config.js';
import { loadTrainingCheckpoint } from './checkpoint.js';
import { Trainer, type TrainerEvent } from './trainer.js';
import { TINY_TEST_BERT, orderedBatches, tinyDataset } from './testing/tiny-data.js';

const config = resolveTrainerConfig({
  num_epochs: 4,
  batch_size: 8,
  d_prjh: 16,
  d_vout: 8,
  d_aout: 8,
  d_vh: 8,
  d_ah: 8,
  when: 0,
  lr_main: 0.05,
  patience: 10,
});

/**
 * The suite on the host path, and again with MMIM_MODEL_OPS selecting what the GPU backends run
 * (the device optimiser, whose moments and parameters are read back for checkpoints and written
 * back on resume; the composite LSTM and log det).
 */
function trainerSuite(modelOps: string | null): void {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-trainer-'));
  describe(`Trainer${modelOps === null ? '' : ` (MMIM_MODEL_OPS=${modelOps})`}`, () => {
    before(async () => {
      await initBackend({ backend: process.env.MMIM_TEST_BACKEND === 'cpu' ? 'cpu' : 'wasm' });
      if (modelOps !== null) process.env['MMIM_MODEL_OPS'] = modelOps;
    });
    after(() => {
      delete process.env['MMIM_MODEL_OPS'];
    });

    it('trains 4 epochs exactly like 2 epochs + resume + 2 (bit for bit), LR plateau included', async () => {
      const data = tinyDataset();
      const batches = orderedBatches(data, 8);
      const full = new Trainer({
        config,
        data,
        batches,
        bert: TINY_TEST_BERT,
        outDir: path.join(tmp, 'full'),
      });
      const a = await full.run();
      const dir = path.join(tmp, 'split');
      const first = new Trainer({ config, data, batches, bert: TINY_TEST_BERT, outDir: dir });
      await first.run(2);
      assert.equal(first.epochsDone, 2);
      first.dispose();
      const resumed = await Trainer.resume(path.join(dir, 'last.safetensors'), {
        data,
        batches,
        bert: TINY_TEST_BERT,
        outDir: dir,
      });
      assert.equal(resumed.epochsDone, 2);
      const b = await resumed.run();
      assert.equal(b.history.length, 4);
      for (const [name, v] of full.model.host)
        assert.deepEqual(resumed.model.host.get(name), v, `parameter ${name} differs after resume`);
      assert.deepEqual(
        b.history.map((h) => [h.valid.mae, h.test.mae, h.lr]),
        a.history.map((h) => [h.valid.mae, h.test.mae, h.lr]),
      );
      // With when = 0 the LR must have been halved at least once for the comparison to mean anything.
      assert.ok(
        a.history.some((h) => (h.lr.main ?? 1) < config.lr_main),
        'no LR reduction happened',
      );
      [full, resumed].forEach((t) => t.dispose());
    });

    it('writes a complete checkpoint: weights loadable as a state dict, moments, state', async () => {
      const data = tinyDataset();
      const dir = path.join(tmp, 'ckpt');
      const events: TrainerEvent[] = [];
      const t = new Trainer({
        config: { ...config, num_epochs: 1 },
        data,
        batches: orderedBatches(data, 8),
        bert: TINY_TEST_BERT,
        outDir: dir,
        onEvent: (e) => events.push(e),
      });
      await t.run();
      const ckpt = await loadTrainingCheckpoint(path.join(dir, 'last.safetensors'));
      assert.equal(ckpt.state.epoch, 1);
      assert.equal(ckpt.state.globalStep, 6);
      assert.ok(ckpt.optimizers.main.moments.size > 0 && ckpt.optimizers.mmilb.moments.size > 0);
      assert.equal(ckpt.weights.size, t.model.specs.length);
      // The same file is a PyTorch-style state dict for the weights (extra optimizer.* tensors aside).
      const best = await loadMmimWeights(path.join(dir, 'best.safetensors'));
      assert.equal(best.state.size, t.model.specs.length);
      assert.deepEqual(
        events.filter((e) => e.type === 'checkpoint').map((e) => (e as { kind: string }).kind),
        ['last', 'best'],
      );
      assert.equal(events.filter((e) => e.type === 'step').length, 6);
      // No temp files left behind.
      assert.deepEqual(fs.readdirSync(dir).sort(), ['best.safetensors', 'last.safetensors']);
      t.dispose();
    });

    it('skips steps made non-finite by a NaN feature and keeps every weight finite', async () => {
      const data = tinyDataset();
      data.splits.train.visual[0] = Number.NaN;
      const t = new Trainer({
        config: { ...config, num_epochs: 1 },
        data,
        batches: orderedBatches(data, 8),
        bert: TINY_TEST_BERT,
      });
      const r = await t.run();
      assert.equal(r.history[0]?.nonFiniteSteps, 2, 'the first batch of each stage');
      for (const v of t.model.host.values()) assert.ok(v.every(Number.isFinite));
      t.dispose();
    });

    it('selects on valid alone by default; reference_selection also requires a better test loss', async () => {
      const data = tinyDataset();
      const run = async (reference: boolean) => {
        const t = new Trainer({
          config: { ...config, num_epochs: 4, reference_selection: reference },
          data,
          batches: orderedBatches(data, 8),
          bert: TINY_TEST_BERT,
        });
        const r = await t.run();
        t.dispose();
        return r;
      };
      const plain = await run(false);
      for (const h of plain.history) assert.equal(h.selected, h.improved);
      const ref = await run(true);
      let bestTest = Infinity;
      for (const h of ref.history) {
        assert.equal(h.selected, h.improved && h.test.loss < bestTest, `epoch ${h.epoch}`);
        if (h.selected) bestTest = h.test.loss;
      }
    });
  });

  describe('frozen-encoder feature cache', () => {
    it('trains with cached [CLS] features exactly as with the frozen BERT run each step (dropout 0)', async () => {
      await initBackend({ backend: process.env.MMIM_TEST_BACKEND === 'cpu' ? 'cpu' : 'wasm' });
      const data = tinyDataset();
      const frozen = {
        ...config,
        num_epochs: 2,
        dropout: 0,
        text_encoder: { freeze: true, trainable_layers: null, micro_batch: 0 },
      };
      const cached = new Trainer({
        config: frozen,
        data,
        batches: orderedBatches(data, 8),
        bert: TINY_TEST_BERT,
      });
      const a = await cached.run();
      // The same run without the cache: trainable_layers 0 freezes every layer without caching.
      const uncachedConfig = {
        ...frozen,
        text_encoder: { freeze: false, trainable_layers: 0, micro_batch: 0 },
      };
      const plain = new Trainer({
        config: uncachedConfig,
        data,
        batches: orderedBatches(data, 8),
        bert: TINY_TEST_BERT,
      });
      const b = await plain.run();
      a.history.forEach((h, i) =>
        assert.ok(
          Math.abs(h.valid.mae - (b.history[i]?.valid.mae ?? NaN)) < 1e-5,
          `epoch ${h.epoch}`,
        ),
      );
      [cached, plain].forEach((t) => t.dispose());
    });
  });
}

trainerSuite(null);
trainerSuite('optimizer=device,lstm=composite,logdet=composite');
