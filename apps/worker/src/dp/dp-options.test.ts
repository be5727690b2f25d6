/**
 * The rank group's options with K = 2 ranks in one process (each its own model, connections and
 * RedisRankGroup) over a real redis-server and a real 3-master Redis Cluster, on the demo setup
 * (stage 0, 1, 0, 1 passes, dropout on):
 * - over the cluster the exact step gives bit for bit the single-Redis parameters, and those
 *   equal one worker on the whole batch (1e-5 relative);
 * - fp16 compression: the summed gradient of every step within 1e-3 relative of the exact sum,
 *   with about half the gradient bytes;
 * - staleness 1: training proceeds, parameters stay finite and identical on both ranks, the first
 *   step of each stage applies nothing, the same bytes travel as in the exact run, and the result
 *   differs from the exact one (it is not exact).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '@mmim/runtime';
import {
  MmimModel,
  TwoStageStepper,
  dataParallelStep,
  type CouplingRows,
  type ParamName,
  type RankGroup,
  type StepReport,
} from '@mmim/model';
import { RedisCollectives, type RedisClient } from '@mmim/param-server';
import {
  startRedisCluster,
  startRedisServer,
  type RedisClusterHandle,
  type RedisServerHandle,
} from '@mmim/param-server/testing';
import {
  DEMO_CONFIG,
  DEMO_OPTIMIZATION,
  DEMO_STAGES,
  applyPending,
  demoBatches,
  rankShare,
} from './dp-train.js';
import { RedisRankGroup, type RedisRankGroupOptions } from './redis-rank-group.js';

let server: RedisServerHandle;
let cluster: RedisClusterHandle;
const K = 2;

interface RunResult {
  params: Map<ParamName, Float32Array>[];
  reports: StepReport[][];
  bytes: number[];
}

/**
 * K ranks training the demo setup concurrently; `wrap` may decorate each rank's group. Returns
 * each rank's final parameters, step reports and bytes moved.
 */
async function runRanks(
  connect: () => RedisClient,
  trial: string,
  opts: RedisRankGroupOptions,
  wrap: (g: RedisRankGroup, rank: number) => RankGroup = (g) => g,
): Promise<RunResult> {
  const conns: RedisClient[] = [];
  const ranks = Array.from({ length: K }, (_, rank) => {
    const [c, b] = [connect(), connect()];
    conns.push(c, b);
    const coll = new RedisCollectives(c, b, trial, rank, K, { timeoutMs: 30_000 });
    const group = new RedisRankGroup(coll, DEMO_CONFIG.bert.hidden_size, opts);
    const stepper = new TwoStageStepper(MmimModel.initialize(DEMO_CONFIG, 5), DEMO_OPTIMIZATION);
    return { rank, group, view: wrap(group, rank), stepper, reports: [] as StepReport[] };
  });
  const batches = demoBatches();
  try {
    for (const stage of DEMO_STAGES) {
      for (const r of ranks) r.stepper.beginStage(stage);
      for (const batch of batches) {
        await Promise.all(
          ranks.map(async (r) =>
            r.reports.push(await dataParallelStep(r.stepper, rankShare(batch, r.rank, K), r.view)),
          ),
        );
      }
      await Promise.all(
        ranks.map((r) => applyPending(r.stepper, r.group, r.reports.at(-1) ?? null)),
      );
    }
    return {
      params: ranks.map(
        (r) => new Map([...r.stepper.model.host].map(([k, v]) => [k, Float32Array.from(v)])),
      ),
      reports: ranks.map((r) => r.reports),
      bytes: ranks.map((r) => r.group.bytesMoved),
    };
  } finally {
    for (const r of ranks) {
      r.group.close();
      r.stepper.model.dispose();
    }
    conns.forEach((c) => c.disconnect());
  }
}

function relDiff(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  a.forEach((x, i) => {
    num += (x - (b[i] ?? NaN)) ** 2;
    den += x * x;
  });
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-12);
}

describe('rank group options: cluster, fp16, staleness', () => {
  let exact: RunResult;
  before(async () => {
    [server, cluster] = await Promise.all([startRedisServer(), startRedisCluster({ masters: 3 })]);
    await initBackend({ backend: 'wasm' });
    exact = await runRanks(() => server.client(), 'exact', {});
  });
  after(async () => {
    await Promise.all([server.stop(), cluster.stop()]);
  });

  it('over a Redis Cluster the exact step gives the single-Redis and single-worker parameters', async () => {
    const onCluster = await runRanks(() => cluster.client(), 'on-cluster', {});
    for (const p of onCluster.params) assert.deepEqual(p, exact.params[0]);
    assert.deepEqual(onCluster.bytes, exact.bytes);
    const reference = new TwoStageStepper(MmimModel.initialize(DEMO_CONFIG, 5), DEMO_OPTIMIZATION);
    for (const stage of DEMO_STAGES) {
      reference.beginStage(stage);
      for (const b of demoBatches()) await reference.step(b);
    }
    const problems: string[] = [];
    for (const [name, v] of await reference.model.readStateDict()) {
      if (name.endsWith('attention.self.key.bias')) continue; // zero true gradient: see dp.test.ts
      const rel = relDiff(v, onCluster.params[0]?.get(name) ?? new Float32Array(0));
      if (!(rel <= 1e-5)) problems.push(`${name}: ${rel.toExponential(2)}`);
    }
    reference.model.dispose();
    assert.deepEqual(problems, []);
  });

  it('fp16 sums every step within 1e-3 of the exact sum with about half the bytes', async (t) => {
    const errors: number[] = [];
    const byteRatio: number[] = [];
    const conns: RedisClient[] = [];
    // Each rank also sums its gradients exactly (own trial) to measure the fp16 error.
    const exactGroups = Array.from({ length: K }, (_, rank) => {
      const [c, b] = [server.client(), server.client()];
      conns.push(c, b);
      return new RedisRankGroup(
        new RedisCollectives(c, b, 'fp16-check', rank, K, { timeoutMs: 30_000 }),
        DEMO_CONFIG.bert.hidden_size,
      );
    });
    const run = await runRanks(
      () => server.client(),
      'fp16',
      { compression: 'fp16' },
      (g, rank) => ({
        allGather: (rows: CouplingRows) => g.allGather(rows),
        sumGradients: async (grads) => {
          const ex = exactGroups[rank] as RedisRankGroup;
          const [b0, e0] = [g.bytesMoved, ex.bytesMoved];
          const [half, full] = await Promise.all([g.sumGradients(grads), ex.sumGradients(grads)]);
          byteRatio.push((g.bytesMoved - b0) / (ex.bytesMoved - e0));
          let num = 0;
          let den = 0;
          for (const [name, f] of full) {
            const h = half.get(name) ?? new Float32Array(0);
            f.forEach((x, i) => {
              num += (x - (h[i] ?? NaN)) ** 2;
              den += x * x;
            });
          }
          errors.push(Math.sqrt(num / Math.max(den, 1e-30)));
          return half;
        },
      }),
    );
    conns.forEach((c) => c.disconnect());
    t.diagnostic(
      `fp16: max relative error of the summed gradient ${Math.max(...errors).toExponential(2)}, ` +
        `gradient bytes fp16/float32 ${Math.min(...byteRatio).toFixed(3)}-${Math.max(...byteRatio).toFixed(3)}`,
    );
    assert.equal(errors.length, K * DEMO_STAGES.length * 3);
    for (const e of errors) assert.ok(e > 0 && e <= 1e-3, `relative error ${e}`);
    for (const r of byteRatio) assert.ok(r > 0.45 && r < 0.6, `byte ratio ${r}`);
    assert.deepEqual(run.params[1], run.params[0], 'ranks agree bit for bit');
  });

  it('staleness 1: trains, stays finite and identical on both ranks, same bytes, not exact', async () => {
    const stale = await runRanks(() => server.client(), 'stale', { staleness: 1 });
    assert.deepEqual(stale.params[1], stale.params[0], 'ranks agree bit for bit');
    // The same payloads travel, only later (the coupling rows' metadata holds loss sums as
    // decimal strings, whose length differs by a few bytes).
    stale.bytes.forEach((b, r) =>
      assert.ok(Math.abs(b - (exact.bytes[r] ?? 0)) < 200, `rank ${r}: ${b} vs ${exact.bytes[r]}`),
    );
    const reports = stale.reports[0] ?? [];
    reports.forEach((r, i) => {
      assert.ok(Number.isFinite(r.loss), `step ${i}: loss ${r.loss}`);
      // The first step of each stage pass has no gradient sum yet.
      if (i % 3 === 0) assert.equal(r.gradNorm, 0, `step ${i}`);
      else assert.ok(r.gradNorm > 0, `step ${i}`);
    });
    let moved = 0;
    let apart = 0;
    const initial = MmimModel.initialize(DEMO_CONFIG, 5);
    for (const [name, v] of stale.params[0] ?? new Map<ParamName, Float32Array>()) {
      for (const x of v) assert.ok(Number.isFinite(x), `${name} has a non-finite value`);
      moved = Math.max(moved, relDiff(initial.host.get(name) ?? new Float32Array(0), v));
      apart = Math.max(apart, relDiff(exact.params[0]?.get(name) ?? new Float32Array(0), v));
    }
    initial.dispose();
    assert.ok(moved > 1e-4, `parameters moved by ${moved}`);
    assert.ok(apart > 1e-6, `delayed gradients give other parameters (${apart})`);
  });
});
