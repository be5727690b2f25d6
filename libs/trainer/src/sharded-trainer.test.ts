/**
 * The owner-sharded data-parallel Trainer (in one process, an in-memory group standing in for the
 * parameter server): K = 1, 2, 3 ranks, each stepping only the chunks it owns, end two epochs of
 * both stages, dropout on, with one trainer's parameters and epoch records; a group lost
 * mid-epoch resumes from the live state (not the epoch checkpoint) with another size and still
 * ends there; update_batch accumulates on the owners. The Redis-backed equivalent across
 * processes is in apps/worker.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '@mmim/runtime';
import { resolveTrainerConfig, type TrainerConfig } from './config.js';
import { Trainer, type TrainResult } from './trainer.js';
import { TINY_TEST_BERT, tinyDataset } from './testing/tiny-data.js';
import { MemoryShardedGroups } from './testing/memory-sharded-group.js';
import { DatasetBatches } from './dataset-batches.js';

const base = resolveTrainerConfig({
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

function relDiff(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  a.forEach((x, i) => {
    num += (x - (b[i] ?? Number.NaN)) ** 2;
    den += x * x;
  });
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-12);
}

/** Per-tensor relative differences above 1e-5 (the zero-gradient key bias excepted). */
function differences(expected: Trainer, got: Trainer): string[] {
  const out: string[] = [];
  for (const [name, v] of expected.model.host) {
    if (name.endsWith('attention.self.key.bias')) continue; // zero true gradient: float noise
    const rel = relDiff(v, got.model.host.get(name) ?? new Float32Array(0));
    if (!(rel <= 1e-5)) out.push(`${name}: ${rel.toExponential(2)}`);
  }
  return out;
}

function sameRecords(expected: TrainResult, got: TrainResult): void {
  assert.equal(got.history.length, expected.history.length);
  got.history.forEach((h, i) => {
    const e = expected.history[i];
    assert.ok(e !== undefined);
    assert.ok(Math.abs(h.trainLoss.stage1 - e.trainLoss.stage1) < 1e-4, `epoch ${h.epoch} loss`);
    assert.ok(
      Math.abs((h.trainLoss.stage0 ?? 0) - (e.trainLoss.stage0 ?? 0)) < 1e-4,
      `epoch ${h.epoch} stage 0 loss`,
    );
    assert.ok(Math.abs(h.valid.mae - e.valid.mae) < 1e-4, `epoch ${h.epoch} valid MAE`);
  });
}

describe('owner-sharded data-parallel Trainer', () => {
  const data = tinyDataset();
  // Shuffled epochs: the split of each global batch must follow the epoch's order.
  const batches = new DatasetBatches(data, { batchSize: 8, seed: base.seed, shuffle: true });
  const single = async (config: TrainerConfig) => {
    const t = new Trainer({ config, data, batches, bert: TINY_TEST_BERT });
    return { trainer: t, result: await t.run() };
  };
  const sharded = (config: TrainerConfig, groups: MemoryShardedGroups) =>
    Array.from({ length: groups.worldSize }, (_, rank) => {
      const g = groups.rank(rank);
      return new Trainer({
        config,
        data,
        batches,
        bert: TINY_TEST_BERT,
        distributed: { rank, worldSize: groups.worldSize, group: g, live: g.live },
      });
    });

  before(async () => {
    await initBackend({ backend: process.env.MMIM_TEST_BACKEND === 'cpu' ? 'cpu' : 'wasm' });
  });

  it('K = 1, 2, 3 owners end two epochs with the single-worker parameters and records', async () => {
    const expected = await single(base);
    for (const K of [1, 2, 3]) {
      const groups = new MemoryShardedGroups(K, { chunkElements: 300 });
      const ranks = sharded(base, groups);
      const results = await Promise.all(ranks.map((t) => t.run()));
      for (const t of ranks.slice(1))
        for (const [name, v] of ranks[0]?.model.host ?? [])
          assert.deepEqual(t.model.host.get(name), v, `K=${K}: ranks disagree on ${name}`);
      assert.deepEqual(differences(expected.trainer, ranks[0] as Trainer), [], `K=${K}`);
      for (const r of results) sameRecords(expected.result, r);
      // Every rank stepped only its own chunks: each moment buffer belongs to one rank.
      const owned = ranks.map((t) => t.stepper.sharding?.shard.chunks.length ?? 0);
      assert.equal(
        owned.reduce((a, b) => a + b, 0),
        groups.live.moments.size,
        `K=${K}: chunks owned once`,
      );
      if (K > 1) assert.ok(owned.every((n) => n > 0 && n < groups.live.moments.size));
      ranks.forEach((t) => t.dispose());
    }
    expected.trainer.dispose();
  });

  it('a group lost mid-epoch resumes from the live state with another size and ends the same', async () => {
    const expected = await single(base);
    // 24 rows in batches of 8: 6 steps per epoch (3 per stage). Fail at the 12th publish: epoch 2,
    // stage 1, third batch, whose loss takes the entropy memory of the second (restored from the
    // cursor; a resume from the epoch-1 checkpoint would redo epoch 2 from its start).
    const first = new MemoryShardedGroups(2, { chunkElements: 300, failAtPublish: 12 });
    const lost = sharded(base, first);
    const outcomes = await Promise.allSettled(lost.map((t) => t.run()));
    assert.ok(
      outcomes.every((o) => o.status === 'rejected'),
      'the first group failed',
    );
    const cursor = first.live.cursor;
    assert.ok(cursor !== null && cursor.epoch !== null, 'the live state stands mid-epoch');
    assert.equal(cursor.epoch.epoch, 2);
    assert.equal(cursor.state.globalStep, 11, 'the cursor is the last committed step');
    assert.deepEqual([cursor.epoch.stage, cursor.epoch.nextBatch], [1, 2]);
    lost.forEach((t) => t.dispose());

    const second = new MemoryShardedGroups(3, { chunkElements: 300 });
    const resumed = await Promise.all(
      [0, 1, 2].map((rank) => {
        const g = second.rank(rank);
        return Trainer.resumeLive(first.snapshot(), {
          data,
          batches,
          bert: TINY_TEST_BERT,
          distributed: { rank, worldSize: 3, group: g, live: g.live },
        });
      }),
    );
    assert.equal(resumed[0]?.globalStep, 11);
    const results = await Promise.all(resumed.map((t) => t.run()));
    assert.deepEqual(differences(expected.trainer, resumed[0] as Trainer), []);
    for (const r of results) sameRecords(expected.result, r);
    resumed.forEach((t) => t.dispose());
    expected.trainer.dispose();
  });

  it('update_batch 2: the owners accumulate and step on the summed gradients', async () => {
    const config = { ...base, update_batch: 2 };
    const expected = await single(config);
    const ranks = sharded(config, new MemoryShardedGroups(2, { chunkElements: 300 }));
    await Promise.all(ranks.map((t) => t.run()));
    assert.deepEqual(differences(expected.trainer, ranks[0] as Trainer), []);
    ranks.forEach((t) => t.dispose());
    expected.trainer.dispose();
  });
});
