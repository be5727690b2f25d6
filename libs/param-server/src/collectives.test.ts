/** All-gather and all-reduce over a real redis-server, K = 1, 2, 3 ranks in one process. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RedisCollectives } from './collectives.js';
import { startRedisServer, type RedisServerHandle } from './testing/redis-server.js';

let server: RedisServerHandle;

describe('RedisCollectives', () => {
  before(async () => {
    server = await startRedisServer();
  });
  after(async () => {
    await server.stop();
  });

  for (const K of [1, 2, 3]) {
    it(`all-gathers bytes and sums chunks in rank order, K = ${K}`, async () => {
      const clients = Array.from({ length: K }, () => [server.client(), server.client()] as const);
      const ranks = clients.map(
        ([c, b], r) => new RedisCollectives(c, b, `coll-${K}`, r, K, { timeoutMs: 10_000 }),
      );
      for (const step of [0, 1]) {
        const gathered = await Promise.all(
          ranks.map((g, r) => g.allGather('rows', step, Buffer.from(`rank ${r} step ${step}`))),
        );
        for (const g of gathered)
          assert.deepEqual(
            g.map((b) => b.toString()),
            Array.from({ length: K }, (_, r) => `rank ${r} step ${step}`),
          );
        const parts = ranks.map((_, r) => [
          Float32Array.from([r + 1, 0.5, -r]),
          Float32Array.from([step, r * 10]),
        ]);
        const sums = await Promise.all(
          ranks.map((g, r) => g.allReduceSum('grads', step, parts[r] ?? [])),
        );
        const expect0 = Float32Array.from([(K * (K + 1)) / 2, 0.5 * K, -((K - 1) * K) / 2]);
        for (const s of sums) {
          assert.deepEqual(s[0], expect0);
          assert.deepEqual(s[1], Float32Array.from([step * K, (10 * (K - 1) * K) / 2]));
        }
      }
      await Promise.all(clients.flat().map((c) => c.quit()));
    });
  }

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
});
