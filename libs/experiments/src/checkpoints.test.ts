/**
 * CheckpointStore on each artifact backend (dir, S3 on a local s3rver, Redis): the same tests,
 * then what is about choosing and moving the store.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRedisServer, type RedisServerHandle } from '@mmim/param-server/testing';
import {
  DirArtifactStore,
  RedisArtifactStore,
  S3ArtifactStore,
  type ArtifactStore,
} from '@mmim/artifacts';
import { startS3Server, type S3ServerHandle } from '@mmim/artifacts/testing';
import type { Redis } from 'ioredis';
import { publishArtifactStore } from './checkpoint-artifacts.js';
import {
  CHECKPOINT_CHUNK_BYTES,
  CheckpointStore,
  StaleAttemptError,
  trialArtifactPrefix,
} from './checkpoints.js';

const bytes = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

interface Backend {
  name: string;
  make(redis: Redis): Promise<{ artifacts: ArtifactStore; stop(): Promise<void> }>;
}

let s3: S3ServerHandle | null = null;
const backends: Backend[] = [
  {
    name: 'dir',
    make: async () => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-ckpt-'));
      return {
        artifacts: new DirArtifactStore(root),
        stop: async () => fs.rmSync(root, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 's3',
    make: async () => {
      s3 = await startS3Server();
      const artifacts = new S3ArtifactStore({
        bucket: s3.bucket,
        prefix: 'ckpt/',
        endpoint: s3.endpoint,
        credentials: s3.credentials,
        partSize: 5 * 1024 * 1024,
      });
      return {
        artifacts,
        stop: async () => {
          await artifacts.close();
          await s3?.stop();
        },
      };
    },
  },
  {
    name: 'redis',
    make: async (redis) => ({
      artifacts: new RedisArtifactStore(redis),
      stop: async () => undefined,
    }),
  },
];

for (const backend of backends) {
  describe(`CheckpointStore on ${backend.name}`, () => {
    let server: RedisServerHandle;
    let redis: Redis;
    let store: CheckpointStore;
    let artifacts: ArtifactStore;
    let stop: () => Promise<void>;
    const versions = async (trial: string): Promise<string[]> =>
      (await artifacts.list(trialArtifactPrefix(trial))).map((i) => i.key);
    before(async () => {
      server = await startRedisServer();
      redis = server.client();
      ({ artifacts, stop } = await backend.make(redis));
      store = new CheckpointStore(redis, 'mmim:', { artifacts });
    });
    after(async () => {
      await stop();
      redis.disconnect();
      await server.stop();
    });

    it('stores a multi-chunk checkpoint, reads it whole and streamed, and replaces it', async () => {
      const first = bytes(2 * CHECKPOINT_CHUNK_BYTES + 123, 1);
      await store.put('t1', 'last', first, 1);
      const info = await store.info('t1', 'last');
      assert.equal(info?.store, backend.name);
      assert.equal(info?.key, 'trials/t1/last/v1.safetensors', 'relative to the store');
      assert.deepEqual(new Uint8Array((await store.get('t1', 'last'))?.data ?? []), first);
      const open = await store.open('t1', 'last');
      const parts: Buffer[] = [];
      for await (const part of open?.chunks() ?? []) parts.push(part);
      assert.deepEqual(new Uint8Array(Buffer.concat(parts)), first);
      const second = bytes(100, 2);
      await store.put('t1', 'last', second, 2);
      assert.equal((await store.info('t1', 'last'))?.epoch, 2);
      assert.deepEqual(await versions('t1'), ['trials/t1/last/v2.safetensors'], 'old version gone');
    });

    it('refuses a checkpoint whose bytes no longer match its record', async () => {
      await store.put('t2', 'best', bytes(1000, 3), 1);
      const info = await store.info('t2', 'best');
      // Someone replaced the artifact behind the record's back (whole, with its own sha256).
      await artifacts.put(info?.key ?? '', bytes(1000, 4));
      await assert.rejects(store.get('t2', 'best'), /checkpoint best of trial t2 is corrupt/);
      const opened = await store.open('t2', 'best');
      await assert.rejects(async () => {
        for await (const _ of opened?.chunks() ?? []) void _;
      }, /corrupt/);
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
      assert.equal(kept?.attempt, 1);
      assert.deepEqual(new Uint8Array(kept?.data ?? []), bytes(50, 5));
      assert.deepEqual(await versions('t3'), ['trials/t3/last/v1.safetensors']);
      // The newer attempt writes; so does an unfenced writer (the API's tests, older callers).
      await store.put('t3', 'last', bytes(70, 7), 2, 2);
      assert.equal((await store.info('t3', 'last'))?.epoch, 2);
      await store.put('t3', 'best', bytes(80, 8), 2);
      assert.equal(await store.delete('t3'), 150, 'bytes freed');
      assert.deepEqual(await redis.keys('mmim:{trial:t3}:*'), []);
      assert.deepEqual(await versions('t3'), []);
    });

    it('keeps concurrent writers apart (versions from INCR, one swap script)', async () => {
      await Promise.all(
        [1, 2, 3, 4, 5, 6].map((e) => store.put('t4', 'best', bytes(1000 + e, e), e)),
      );
      const info = await store.info('t4', 'best');
      const got = await store.get('t4', 'best');
      assert.ok(info !== null && got !== null);
      // Whichever write swapped last, its file is whole and only it remains.
      assert.deepEqual(new Uint8Array(got.data), bytes(1000 + info.epoch, info.epoch));
      assert.deepEqual(await versions('t4'), [info.key]);
    });
  });
}

describe('CheckpointStore: the published store, moving it, and trial ids', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  const roots: string[] = [];
  const tmp = (): string => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-ckpt-'));
    roots.push(root);
    return root;
  };
  before(async () => {
    server = await startRedisServer();
    redis = server.client();
  });
  after(async () => {
    redis.disconnect();
    await server.stop();
    for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
  });

  it('without a published store, writes to Redis (uncapped, as before); once published, workers write there with no flag', async () => {
    const worker = new CheckpointStore(redis);
    assert.equal(await worker.unconfigured(), true);
    await worker.put('p1', 'last', bytes(65 * 1024 * 1024, 1), 1); // over the capped store's 64 MiB
    assert.equal((await worker.info('p1', 'last'))?.store, 'redis');
    const root = tmp();
    await publishArtifactStore(redis, `dir:${root}`);
    assert.equal(await worker.unconfigured(), false);
    await worker.put('p1', 'last', bytes(20, 2), 2);
    const info = await worker.info('p1', 'last');
    assert.equal(info?.store, 'dir');
    assert.ok(fs.existsSync(path.join(root, 'trials/p1/last/v2.safetensors')), 'a plain file');
    assert.deepEqual(await redis.keys('mmim:{art:*'), [], 'the Redis copy was removed');
    await worker.close();
  });

  it('a moved run directory keeps every record readable once its new place is published', async () => {
    const first = tmp();
    await publishArtifactStore(redis, `dir:${first}`);
    const writer = new CheckpointStore(redis);
    await writer.put('m1', 'best', bytes(300, 3), 4);
    const moved = path.join(tmp(), 'elsewhere');
    fs.renameSync(first, moved);
    await publishArtifactStore(redis, `dir:${moved}`);
    const reader = new CheckpointStore(redis);
    const got = await reader.get('m1', 'best');
    assert.equal(got?.epoch, 4);
    assert.deepEqual(new Uint8Array(got?.data ?? []), bytes(300, 3));
    await writer.close();
    await reader.close();
  });

  it('names the store to start with when a checkpoint sits in another kind of store', async () => {
    const root = tmp();
    await publishArtifactStore(redis, `dir:${root}`);
    const store = new CheckpointStore(redis);
    await store.put('x1', 'last', bytes(10, 4), 1);
    await publishArtifactStore(redis, 's3://bkt/p?endpoint=http%3A%2F%2F127.0.0.1%3A9');
    await assert.rejects(
      store.get('x1', 'last'),
      /checkpoint last of trial x1 is in a 'dir' artifact store, but this run's store is s3:\/\/bkt.*--artifacts dir:/,
    );
    await store.close();
  });

  it('reads, replaces and deletes a checkpoint written before artifact stores (chunks in Redis)', async () => {
    const data = Buffer.from(bytes(CHECKPOINT_CHUNK_BYTES + 5, 9));
    const legacy = async (trial: string): Promise<void> => {
      const pointer = `mmim:{trial:${trial}}:ckpt:last`;
      await redis.set(`${pointer}:v3:0`, data.subarray(0, CHECKPOINT_CHUNK_BYTES));
      await redis.set(`${pointer}:v3:1`, data.subarray(CHECKPOINT_CHUNK_BYTES));
      await redis.hset(pointer, {
        version: '3',
        chunks: '2',
        epoch: '2',
        bytes: String(data.length),
        sha256: createHash('sha256').update(data).digest('hex'),
        savedAt: '1',
      });
    };
    await legacy('old1');
    const root = tmp();
    await publishArtifactStore(redis, `dir:${root}`);
    const store = new CheckpointStore(redis);
    const info = await store.info('old1', 'last');
    assert.deepEqual([info?.store, info?.key, info?.epoch], ['redis', '', 2]);
    assert.ok((await store.get('old1', 'last'))?.data.equals(data), 'a resume reads it');
    const parts: Buffer[] = [];
    for await (const p of (await store.open('old1', 'last'))?.chunks() ?? []) parts.push(p);
    assert.ok(Buffer.concat(parts).equals(data), 'a download streams it');
    await store.put('old1', 'last', bytes(10, 1), 3, 1);
    assert.equal((await store.info('old1', 'last'))?.store, 'dir');
    assert.deepEqual(await redis.keys('mmim:{trial:old1}:ckpt:last:v3:*'), [], 'old chunks gone');
    await legacy('old2');
    assert.equal(await store.delete('old2'), data.length);
    assert.deepEqual(await redis.keys('mmim:{trial:old2}:*'), []);
    await store.close();
  });

  it('maps any trial id to one safe key segment, distinct ids to distinct keys', () => {
    assert.equal(trialArtifactPrefix('s1-t0'), 'trials/s1-t0/');
    assert.equal(trialArtifactPrefix('a/b:c_d.e'), 'trials/a_2fb_3ac_5fd_2ee/');
    assert.notEqual(trialArtifactPrefix('a_2f'), trialArtifactPrefix('a/'));
  });
});
