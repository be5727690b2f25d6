/**
 * All-gather and all-reduce over a real redis-server and a real 3-master Redis Cluster,
 * K = 1, 2, 3 ranks in one process (own connections each). One suite, both backends.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { RedisClient } from './client.js';
import { RedisCollectives } from './collectives.js';
import { TrialKeys } from './keys.js';
import { startRedisCluster, type RedisClusterHandle } from './testing/redis-cluster.js';
import { startRedisServer, type RedisServerHandle } from './testing/redis-server.js';

let server: RedisServerHandle;
let cluster: RedisClusterHandle;

/** Each rank's gathered strings and sums for two steps. */
async function runCollectives(connect: () => RedisClient, trial: string, K: number) {
  const clients = Array.from({ length: K }, () => [connect(), connect()] as const);
  const ranks = clients.map(
    ([c, b], r) => new RedisCollectives(c, b, trial, r, K, { timeoutMs: 10_000 }),
  );
  const results: { gathered: string[][]; sums: Float32Array[][] }[] = [];
  try {
    for (const step of [0, 1]) {
      const gathered = await Promise.all(
        ranks.map((g, r) => g.allGather('rows', step, Buffer.from(`rank ${r} step ${step}`))),
      );
      const parts = ranks.map((_, r) => [
        Float32Array.from([r + 1, 0.5, -r]),
        Float32Array.from([step, r * 10]),
      ]);
      const sums = await Promise.all(
        ranks.map((g, r) => g.allReduceSum('grads', step, parts[r] ?? [])),
      );
      results.push({ gathered: gathered.map((g) => g.map((b) => b.toString())), sums });
    }
  } finally {
    clients.flat().forEach((c) => c.disconnect());
  }
  return results;
}

function checkResults(K: number, results: Awaited<ReturnType<typeof runCollectives>>): void {
  results.forEach(({ gathered, sums }, step) => {
    for (const g of gathered)
      assert.deepEqual(
        g,
        Array.from({ length: K }, (_, r) => `rank ${r} step ${step}`),
      );
    const expect0 = Float32Array.from([(K * (K + 1)) / 2, 0.5 * K, -((K - 1) * K) / 2]);
    for (const s of sums) {
      assert.deepEqual(s[0], expect0);
      assert.deepEqual(s[1], Float32Array.from([step * K, (10 * (K - 1) * K) / 2]));
    }
  });
}

describe('RedisCollectives', () => {
  before(async () => {
    [server, cluster] = await Promise.all([startRedisServer(), startRedisCluster({ masters: 3 })]);
  });
  after(async () => {
    await Promise.all([server.stop(), cluster.stop()]);
  });

  for (const K of [1, 2, 3]) {
    it(`all-gathers bytes and sums chunks in rank order, K = ${K}`, async () => {
      checkResults(K, await runCollectives(() => server.client(), `coll-${K}`, K));
    });
  }

  for (const K of [2, 3]) {
    it(`gives the single-Redis results on a 3-master cluster, K = ${K}`, async () => {
      const single = await runCollectives(() => server.client(), `same-${K}`, K);
      const onCluster = await runCollectives(() => cluster.client(), `same-${K}`, K);
      checkResults(K, onCluster);
      assert.deepEqual(onCluster, single);
      // The trial's keys all sit on the one master owning its hash-tag slot.
      const probe = cluster.client();
      try {
        await once(probe, 'ready');
        const pattern = new TrialKeys(`same-${K}`).pattern();
        const counts = await Promise.all(
          probe.nodes('master').map(async (n) => (await n.keys(pattern)).length),
        );
        assert.equal(
          counts.filter((n) => n > 0).length,
          1,
          `keys per master: ${counts.join(', ')}`,
        );
      } finally {
        probe.disconnect();
      }
    });
  }

  it('fp16 parts halve the bytes and sum within half precision; forks run concurrently', async () => {
    const K = 2;
    const n = 1000;
    const clients = Array.from({ length: K }, () => [server.client(), server.client()] as const);
    const ranks = clients.map(
      ([c, b], r) =>
        new RedisCollectives(c, b, 'fp16', r, K, { timeoutMs: 10_000, compression: 'fp16' }),
    );
    const forks = ranks.map((g) => g.fork());
    try {
      const parts = ranks.map((_, r) =>
        Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + r) * 1e-3),
      );
      // Two reductions at once on each rank: the fork's and the parent's.
      const [sums, again] = await Promise.all([
        Promise.all(ranks.map((g, r) => g.allReduceSum('g', 0, [parts[r] ?? new Float32Array(0)]))),
        Promise.all(forks.map((g, r) => g.allReduceSum('h', 0, [parts[r] ?? new Float32Array(0)]))),
      ]);
      assert.deepEqual(sums[0], sums[1], 'ranks agree bit for bit');
      assert.deepEqual(again[0], sums[0]);
      const exact = Float64Array.from(
        { length: n },
        (_, i) => (parts[0]?.[i] ?? 0) + (parts[1]?.[i] ?? 0),
      );
      let num = 0;
      let den = 0;
      exact.forEach((x, i) => {
        num += (x - (sums[0]?.[0]?.[i] ?? NaN)) ** 2;
        den += x * x;
      });
      assert.ok(Math.sqrt(num / den) < 1e-3, `relative error ${Math.sqrt(num / den)}`);
      // 4-byte header + 2 bytes per value, written once and read once per rank.
      assert.equal(ranks[0]?.bytesMoved, 2 * (4 + 2 * n));
    } finally {
      forks.forEach((f) => f.close());
      clients.flat().forEach((c) => c.disconnect());
    }
  });

  it('names the missing rank when a peer never arrives', async () => {
    const c = server.client();
    const b = server.client();
    const g = new RedisCollectives(c, b, 'lonely', 0, 2, { timeoutMs: 1500 });
    await assert.rejects(
      g.allGather('rows', 0, Buffer.from('x')),
      /trial lonely.*waiting for 'rows' from rank\(s\) 1 of 2.*timed out/s,
    );
    await Promise.all([c.quit(), b.quit()]);
  });

  it('refuses an unknown compression', () => {
    const c = server.client();
    assert.throws(
      () =>
        new RedisCollectives(c, c, 't', 0, 1, {
          compression: 'bf16' as unknown as 'fp16',
        }),
      /compression: 'bf16' is not one of none, fp16/,
    );
    c.disconnect();
  });
});
