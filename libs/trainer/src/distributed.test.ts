/**
 * The data-parallel Trainer: K = 2 trainers (one process, an in-memory rank group) end two
 * epochs of both stages, dropout on, with the parameters and the epoch records of one trainer on
 * the whole batches. The Redis-backed equivalent across processes is in apps/worker.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '@mmim/runtime';
import { resolveTrainerConfig, TrainerConfigError } from './config.js';
import { Trainer } from './trainer.js';
import { TINY_TEST_BERT, orderedBatches, tinyDataset } from './testing/tiny-data.js';
import { MemoryRankGroups } from './testing/memory-rank-group.js';
import { DatasetBatches } from './dataset-batches.js';

const config = resolveTrainerConfig({
  num_epochs: 2,
  batch_size: 8,
  d_prjh: 16,
  d_vout: 8,
  d_aout: 8,
  d_vh: 8,
  d_ah: 8,
  lr_main: 0.01,
  seed: 7,
});

/** Relative L2 distance between two parameter vectors. */
function relDiff(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  a.forEach((x, i) => {
    num += (x - (b[i] ?? Number.NaN)) ** 2;
    den += x * x;
  });
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-12);
}

describe('data-parallel Trainer', () => {
  before(async () => {
    await initBackend({ backend: process.env.MMIM_TEST_BACKEND === 'cpu' ? 'cpu' : 'wasm' });
  });

  it('K = 2 ranks end two epochs with the K = 1 parameters (1e-5 relative, dropout on)', async () => {
    const data = tinyDataset();
    // Shuffled epochs: the split of each global batch must follow the epoch's order.
    const batches = new DatasetBatches(data, { batchSize: 8, seed: config.seed, shuffle: true });
    const single = new Trainer({ config, data, batches, bert: TINY_TEST_BERT });
    const expected = await single.run();
    const groups = new MemoryRankGroups(2);
    const ranks = [0, 1].map(
      (rank) =>
        new Trainer({
          config,
          data,
          batches,
          bert: TINY_TEST_BERT,
          distributed: { rank, worldSize: 2, group: groups.rank(rank) },
        }),
    );
    const results = await Promise.all(ranks.map((t) => t.run()));
    const problems: string[] = [];
    for (const [name, v] of single.model.host) {
      const r0 = ranks[0]?.model.host.get(name) ?? new Float32Array(0);
      assert.deepEqual(ranks[1]?.model.host.get(name), r0, `ranks disagree on ${name}`);
      // A zero true gradient: Adam moves it on float noise in any implementation (sharded.test.ts).
      if (name.endsWith('attention.self.key.bias')) continue;
      const rel = relDiff(v, r0);
      if (!(rel <= 1e-5)) problems.push(`${name}: ${rel.toExponential(2)}`);
    }
    assert.deepEqual(problems, []);
    for (const r of results) {
      assert.equal(r.history.length, 2);
      r.history.forEach((h, i) => {
        const e = expected.history[i];
        assert.ok(e !== undefined);
        assert.ok(
          Math.abs(h.trainLoss.stage1 - e.trainLoss.stage1) < 1e-4,
          `epoch ${h.epoch} stage 1 loss`,
        );
        assert.ok(Math.abs(h.valid.mae - e.valid.mae) < 1e-4, `epoch ${h.epoch} valid MAE`);
      });
    }
    [single, ...ranks].forEach((t) => t.dispose());
  });

  it('refuses options the data-parallel step cannot honour, naming the key', () => {
    const data = tinyDataset();
    const groups = new MemoryRankGroups(2);
    assert.throws(
      () =>
        new Trainer({
          config: { ...config, text_encoder: { ...config.text_encoder, micro_batch: 4 } },
          data,
          batches: orderedBatches(data, 8),
          bert: TINY_TEST_BERT,
          distributed: { rank: 0, worldSize: 2, group: groups.rank(0) },
        }),
      (err: unknown) =>
        err instanceof TrainerConfigError && /text_encoder\.micro_batch/.test(err.message),
    );
    assert.throws(
      () =>
        new Trainer({
          config: { ...config, batch_size: 1 },
          data,
          batches: orderedBatches(data, 1),
          bert: TINY_TEST_BERT,
          distributed: { rank: 1, worldSize: 2, group: groups.rank(1) },
        }),
      (err: unknown) => err instanceof TrainerConfigError && /batch_size/.test(err.message),
    );
  });
});
