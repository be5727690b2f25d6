/**
 * ParamStore against a real 3-master Redis Cluster: the step protocol (Lua scripts, MULTI,
 * stream waits on a duplicated connection) ends with the single-process reference, the
 * trial's keys live on one master, and deleteTrial finds them there.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { ParamStore } from './store.js';
import { TrialKeys } from './keys.js';
import { startRedisCluster, type RedisClusterHandle } from './testing/redis-cluster.js';
import { maxAbsDiff, reference, simulate, type SimOptions } from './testing/simulate.js';

describe('ParamStore on a Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  before(async () => {
    cluster = await startRedisCluster({ masters: 3 });
  });
  after(async () => {
    await cluster.stop();
  });

  it('K=2 and K=3 with clipping match the single-process reference', async () => {
    const cases: SimOptions[] = [
      { worldSize: 2, steps: 3, chunkBytes: 64 },
      { worldSize: 3, steps: 2, chunkBytes: 64, clipNorm: 0.5 },
    ];
    for (const c of cases) {
      const got = await simulate(`cl-${c.worldSize}`, () => cluster.client(), c);
      const want = reference(c);
      assert.equal(got.length, c.worldSize);
      for (const g of got) assert.ok(maxAbsDiff(g, want) < 1e-6, `diff ${maxAbsDiff(g, want)}`);
    }
  });

  it("keeps a trial's keys on one master and deletes them all", async () => {
    await simulate('cl-del', () => cluster.client(), { worldSize: 2, steps: 1, chunkBytes: 64 });
    const client = cluster.client();
    const store = new ParamStore(client);
    try {
      await once(client, 'ready');
      const pattern = new TrialKeys('cl-del').pattern();
      const perMaster = async (): Promise<number[]> =>
        Promise.all(client.nodes('master').map(async (n) => (await n.keys(pattern)).length));
      const before = await perMaster();
      assert.equal(before.filter((n) => n > 0).length, 1, `keys per master: ${before.join(', ')}`);
      const total = before.reduce((a, b) => a + b, 0);
      assert.equal(await store.deleteTrial('cl-del'), total);
      assert.deepEqual(await perMaster(), [0, 0, 0]);
    } finally {
      await store.close();
      client.disconnect();
    }
  });
});
