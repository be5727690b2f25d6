import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  startRedisCluster,
  startRedisServer,
  type RedisClusterHandle,
  type RedisServerHandle,
} from '@mmim/param-server/testing';
import type { Cluster, Redis } from 'ioredis';
import { CheckpointStore } from './checkpoints.js';
import { ExperimentStore } from './store.js';
import { fixtureEpoch, fixtureSweep, fixtureTrial } from './testing/fixtures.js';
import { experimentStoreContract } from './testing/store-contract.js';

/** CRC16/XMODEM as Redis Cluster uses it, with the hash-tag rule. */
function crc16(data: Buffer): number {
  let crc = 0;
  for (const byte of data) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}
function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(Buffer.from(key)) % 16384;
}

describe('ExperimentStore on a real redis-server', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  let redis2: Redis;

  before(async () => {
    server = await startRedisServer();
    redis = server.client();
    redis2 = server.client();
  });
  after(async () => {
    redis.disconnect();
    redis2.disconnect();
    await server.stop();
  });

  const fresh = (): ExperimentStore => new ExperimentStore(redis, `t${randomUUID().slice(0, 8)}:`);

  // The behaviour every store shares (the in-memory one runs the same suite).
  experimentStoreContract('ExperimentStore (Redis)', async () => fresh());

  it('packs a curve point in 24 bytes and pages reads of long curves', async () => {
    const store = fresh();
    await store.putTrial(fixtureTrial({ id: 'cv' }));
    const n = 90_000; // more than two GETRANGE pages
    const points = Array.from({ length: n }, (_, i) => ({
      name: 'train/loss',
      step: i,
      value: i === 50_000 ? 100 : 0,
      at: i,
    }));
    await store.appendPoints('cv', points);
    assert.equal(await redis.strlen(`${store.prefix}{trial:cv}:curve:train/loss`), n * 24);
    const curve = await store.curve('cv', 'train/loss', { maxPoints: 100 });
    assert.equal(curve.total, n);
    assert.ok(curve.points.some((p) => p.step === 50_000 && p.value === 100));
  });

  it('computes Redis Cluster slots like Redis (CRC16 check values)', () => {
    assert.equal(crc16(Buffer.from('123456789')), 0x31c3);
    assert.equal(keySlot('foo'), 12182);
    assert.equal(keySlot('a{foo}b'), 12182);
  });

  it('loses no update when two connections update one trial at once', async () => {
    const prefix = `c${randomUUID().slice(0, 8)}:`;
    const a = new ExperimentStore(redis, prefix);
    const b = new ExperimentStore(redis2, prefix);
    await a.putTrial(fixtureTrial({ id: 'hot' }));
    const metric = { name: 'valid.mae', goal: 'minimize' as const };
    const n = 40;
    await Promise.all([
      (async () => {
        for (let i = 1; i <= n; i++) await a.addEpoch('hot', fixtureEpoch(i, 1 / i), metric);
      })(),
      (async () => {
        for (let i = 1; i <= n; i++) await b.updateTrial('hot', { attempts: i });
      })(),
      (async () => {
        for (let i = 1; i <= n; i++) await b.updateTrial('hot', { error: `e${i}` });
      })(),
    ]);
    const t = await a.getTrial('hot');
    assert.equal(t?.epochs, n, 'every epoch counted');
    assert.equal(t?.attempts, n, 'the last attempts update survived');
    assert.equal(t?.error, `e${n}`, 'the last error update survived');
    assert.equal(t?.bestValue, 1 / n);
    assert.equal((await b.epochs('hot')).length, n);
  });

  it('keeps every key of one trial (checkpoints included) and of one sweep on one Cluster slot', async () => {
    const prefix = `k${randomUUID().slice(0, 8)}:`;
    const store = new ExperimentStore(redis, prefix);
    const checkpoints = new CheckpointStore(redis, prefix);
    await store.putSweep(fixtureSweep({ id: 'sw-9' }));
    await store.addSweepEvent('sw-9', { at: 1, type: 'paused', message: '' });
    await store.putTrial(fixtureTrial({ id: 'tr-9', sweepId: 'sw-9' }));
    await store.addEpoch('tr-9', fixtureEpoch(1, 0.5), { name: 'valid.mae', goal: 'minimize' });
    await store.addEvent('tr-9', { at: 1, type: 'started', message: '' });
    await store.appendPoints('tr-9', [
      { name: 'train/loss', step: 1, value: 1, at: 1 },
      { name: 'valid/mae', step: 1, value: 1, at: 1 },
    ]);
    await checkpoints.put('tr-9', 'last', new Uint8Array([1, 2, 3]), 1);

    const trialKeys = await redis.keys(`${prefix}{trial:tr-9}*`);
    assert.ok(trialKeys.length >= 8, `trial keys: ${trialKeys.join(', ')}`);
    assert.equal(new Set(trialKeys.map(keySlot)).size, 1, `one slot for ${trialKeys.join(', ')}`);
    const sweepKeys = await redis.keys(`${prefix}{sweep:sw-9}*`);
    assert.equal(sweepKeys.length, 3, sweepKeys.join(', '));
    assert.equal(new Set(sweepKeys.map(keySlot)).size, 1);
    const everything = await redis.keys(`${prefix}*`);
    assert.deepEqual(
      everything.filter((k) => !k.includes('{')).sort(),
      [`${prefix}sweeps`, `${prefix}trials`],
      'the only untagged keys are the two indexes',
    );
  });
});

/** Every key under `prefix`, from every master of a Cluster. */
async function allKeys(redis: Redis | Cluster, prefix: string): Promise<string[]> {
  const nodes = 'nodes' in redis ? redis.nodes('master') : [redis];
  const keys = await Promise.all(nodes.map((n) => n.keys(`${prefix}*`)));
  return keys.flat().sort();
}

describe('ExperimentStore.deleteSweep on one Redis and on a Redis Cluster', () => {
  let server: RedisServerHandle;
  let cluster: RedisClusterHandle;
  const clients: (Redis | Cluster)[] = [];
  before(async () => {
    [server, cluster] = await Promise.all([startRedisServer(), startRedisCluster({ masters: 3 })]);
    clients.push(server.client(), cluster.client());
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await Promise.all([server.stop(), cluster.stop()]);
  });

  for (const [i, name] of ['one Redis', 'a 3-master Cluster'].entries()) {
    it(`leaves no key of the sweep or its trials, checkpoint pointers included (${name})`, async () => {
      const redis = clients[i] as Redis | Cluster;
      const prefix = `d${randomUUID().slice(0, 8)}:`;
      const store = new ExperimentStore(redis, prefix);
      const checkpoints = new CheckpointStore(redis, prefix);
      const metric = { name: 'valid.mae', goal: 'minimize' as const };
      for (const sweep of ['gone', 'kept']) {
        await store.putSweep(fixtureSweep({ id: sweep }));
        await store.addSweepEvent(sweep, { at: 1, type: 'paused', message: '' });
        // Enough trials to spread over the Cluster's three masters.
        for (let n = 0; n < 6; n++) {
          const trial = `${sweep}-${n}`;
          await store.putTrial(fixtureTrial({ id: trial, sweepId: sweep, number: n }));
          await store.addEpoch(trial, fixtureEpoch(1, 0.5), metric);
          await store.appendPoints(trial, [{ name: 'train/loss', step: 1, value: 1, at: 1 }]);
          await checkpoints.put(trial, 'best', new Uint8Array([1, 2, 3]), 1);
        }
      }
      const before = await allKeys(redis, prefix);
      const kept = before.filter((k) => !k.includes('{sweep:gone}') && !k.includes('{trial:gone-'));
      assert.ok(before.length - kept.length >= 6 * 6, `${before.length} keys, ${kept.length} kept`);
      assert.equal((await store.deleteSweep('gone')).length, 6);
      assert.deepEqual(await allKeys(redis, prefix), kept);
      assert.equal((await store.listTrials(null)).total, 6);
      assert.equal((await checkpoints.get('kept-3', 'best'))?.data.length, 3);
      assert.equal(await checkpoints.info('gone-3', 'best'), null);
      await checkpoints.close();
    });
  }
});
