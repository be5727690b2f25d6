import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startRedisServer, type RedisServerHandle } from '@mmim/param-server';
import type { Redis } from 'ioredis';
import { CHECKPOINT_CHUNK_BYTES, CheckpointStore, StaleAttemptError } from './checkpoints.js';

describe('CheckpointStore', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  let store: CheckpointStore;
  before(async () => {
    server = await startRedisServer();
    redis = server.client();
    store = new CheckpointStore(redis);
  });
  after(async () => {
    redis.disconnect();
    await server.stop();
  });

  const bytes = (n: number, seed: number): Uint8Array =>
    Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

  it('stores a multi-chunk checkpoint, reads it whole and streamed, and replaces it', async () => {
    const first = bytes(2 * CHECKPOINT_CHUNK_BYTES + 123, 1);
    await store.put('t1', 'last', first, 1);
    assert.equal((await redis.keys('mmim:{trial:t1}:ckpt:last:v1:*')).length, 3);
    assert.deepEqual(new Uint8Array((await store.get('t1', 'last'))?.data ?? []), first);
    const open = await store.open('t1', 'last');
    const parts: Buffer[] = [];
    for await (const part of open?.chunks() ?? []) parts.push(part);
    assert.equal(parts.length, 3);
    assert.deepEqual(new Uint8Array(Buffer.concat(parts)), first);
    const second = bytes(100, 2);
    await store.put('t1', 'last', second, 2);
    assert.equal((await store.info('t1', 'last'))?.epoch, 2);
    assert.deepEqual(await redis.keys('mmim:{trial:t1}:ckpt:last:v1:*'), [], 'old chunks gone');
  });

  it('refuses a corrupted chunk, and a version replaced in the middle of a stream', async () => {
    await store.put('t2', 'best', bytes(2 * CHECKPOINT_CHUNK_BYTES, 3), 1);
    const open = await store.open('t2', 'best');
    const it = open?.chunks();
    await it?.next(); // first chunk read; now a new version replaces the one being read
    await store.put('t2', 'best', bytes(10, 4), 2);
    await assert.rejects(async () => it?.next(), /replaced while being read/);
    await redis.set('mmim:{trial:t2}:ckpt:best:v2:0', Buffer.from('tampered!!'));
    await assert.rejects(store.get('t2', 'best'), /corrupt/);
  });

  it('fences attempts: an older attempt cannot write once a newer one started', async () => {
    assert.equal(await store.fence('t3', 1), 1);
    await store.put('t3', 'last', bytes(50, 5), 1, 1);
    // The group is re-formed: attempt 2 starts, then the partitioned attempt 1 comes back.
    assert.equal(await store.fence('t3', 2), 2);
    assert.equal(await store.fence('t3', 1), 2, 'the fence never goes down');
    await assert.rejects(
      store.put('t3', 'last', bytes(60, 6), 2, 1),
      (err: Error) =>
        err instanceof StaleAttemptError && /attempt 1 may no longer write/.test(err.message),
    );
    // Nothing of the refused write is left; the checkpoint is still attempt 1's first one.
    const kept = await store.get('t3', 'last');
    assert.equal(kept?.epoch, 1);
    assert.deepEqual(new Uint8Array(kept?.data ?? []), bytes(50, 5));
    const chunkKeys = (await redis.keys('mmim:{trial:t3}:ckpt:last:v*')).sort();
    assert.deepEqual(chunkKeys, ['mmim:{trial:t3}:ckpt:last:v1:0']);
    // The newer attempt writes; so does an unfenced writer (the API's tests, older callers).
    await store.put('t3', 'last', bytes(70, 7), 2, 2);
    assert.equal((await store.info('t3', 'last'))?.epoch, 2);
    await store.delete('t3');
    assert.deepEqual(await redis.keys('mmim:{trial:t3}:*'), []);
  });

  it('keeps concurrent writers apart (versions from INCR, one swap script)', async () => {
    await Promise.all(
      [1, 2, 3, 4, 5, 6].map((e) =>
        store.put('t4', 'best', bytes(CHECKPOINT_CHUNK_BYTES + e, e), e),
      ),
    );
    const info = await store.info('t4', 'best');
    const got = await store.get('t4', 'best');
    assert.ok(info !== null && got !== null);
    // Whichever write swapped last, its file is whole and only its chunks remain.
    assert.deepEqual(
      new Uint8Array(got.data),
      bytes(CHECKPOINT_CHUNK_BYTES + info.epoch, info.epoch),
    );
    assert.equal((await redis.keys('mmim:{trial:t4}:ckpt:best:v*')).length, 2);
  });
});
