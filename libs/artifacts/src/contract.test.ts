/** The ArtifactStore contract against each backend on its real server; then what is backend-specific. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startRedisServer } from '@mmim/param-server/testing';
import { DirArtifactStore } from './dir-store.js';
import { RedisArtifactStore } from './redis-store.js';
import { openArtifactStore } from './registry.js';
import { S3ArtifactStore } from './s3-store.js';
import { ArtifactTooLargeError } from './store.js';
import { artifactStoreContract, bytes, startS3Server } from './testing/index.js';

artifactStoreContract({
  name: 'dir',
  setup: async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-artifacts-'));
    return {
      store: new DirArtifactStore(root),
      url: `dir:${root}`,
      env: {},
      corrupt: async (key) => {
        const file = path.join(root, key);
        const data = fs.readFileSync(file);
        data[0] = (data[0] ?? 0) ^ 0xff;
        fs.writeFileSync(file, data);
      },
      stop: async () => fs.rmSync(root, { recursive: true, force: true }),
    };
  },
});

artifactStoreContract({
  name: 's3 (s3rver child process, AWS SDK v3)',
  setup: async () => {
    const server = await startS3Server();
    const store = new S3ArtifactStore({
      bucket: server.bucket,
      prefix: 'run1/',
      endpoint: server.endpoint,
      credentials: server.credentials,
      partSize: 5 * 1024 * 1024,
    });
    const raw = new S3Client({
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: server.credentials,
    });
    return {
      store,
      url: server.url('run1/'),
      env: server.env,
      corrupt: async (key) => {
        const got = await store.get(key);
        const info = await store.info(key);
        const data = Buffer.from(got?.data ?? []);
        data[0] = (data[0] ?? 0) ^ 0xff;
        await raw.send(
          new PutObjectCommand({
            Bucket: server.bucket,
            Key: `run1/${key}`,
            Body: data,
            Metadata: { sha256: info?.sha256 ?? '', 'saved-at': String(info?.savedAt ?? 0) },
          }),
        );
      },
      stop: async () => {
        raw.destroy();
        await server.stop();
      },
    };
  },
});

artifactStoreContract({
  name: 'redis',
  setup: async () => {
    const server = await startRedisServer();
    const client = server.client();
    return {
      store: new RedisArtifactStore(client, { prefix: 'ct:' }),
      url: 'redis',
      env: { MMIM_TEST_REDIS_URL: `redis://127.0.0.1:${server.port}` },
      corrupt: async (key) => {
        const h = await client.hgetall(`ct:{art:${key}}`);
        const chunk = `ct:{art:${key}}:v${h.version}:0`;
        const data = (await client.getBuffer(chunk)) ?? Buffer.alloc(0);
        data[0] = (data[0] ?? 0) ^ 0xff;
        await client.set(chunk, data);
      },
      stop: async () => {
        client.disconnect();
        await server.stop();
      },
    };
  },
});

describe('artifact backends: what is not in the contract', () => {
  let redisServer: Awaited<ReturnType<typeof startRedisServer>>;
  before(async () => {
    redisServer = await startRedisServer();
  });
  after(async () => {
    await redisServer.stop();
  });

  it('redis refuses an artifact over its cap, whole or streamed, naming the cap and leaving no key', async () => {
    const client = redisServer.client();
    try {
      const store = new RedisArtifactStore(client, { prefix: 'cap:', maxBytes: 1000 });
      await assert.rejects(
        store.put('t/big.bin', bytes(1001, 1)),
        (err: Error) =>
          err instanceof ArtifactTooLargeError &&
          /over the 1000-byte cap/.test(err.message) &&
          /dir: or s3:\/\//.test(err.message),
      );
      async function* stream(): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < 5; i++) yield bytes(300, i);
      }
      await assert.rejects(store.put('t/big.bin', stream()), ArtifactTooLargeError);
      assert.deepEqual(
        (await client.keys('cap:*')).filter((k) => !k.endsWith(':seq')),
        [],
        'no chunk left behind',
      );
      await store.put('t/small.bin', bytes(1000, 2));
      assert.equal((await store.info('t/small.bin'))?.bytes, 1000);
    } finally {
      client.disconnect();
    }
  });

  it('redis: chunks of a write not yet committed expire by themselves (TTL), committed ones do not', async () => {
    const client = redisServer.client();
    try {
      const store = new RedisArtifactStore(client, { prefix: 'ttl:' });
      await store.put('t/x.bin', bytes(10, 1));
      const [chunk] = await client.keys('ttl:{art:t/x.bin}:v*');
      assert.equal(await client.pttl(chunk ?? ''), -1, 'committed chunk has no TTL');
      let pendingTtl = 0;
      async function* slow(): AsyncGenerator<Uint8Array> {
        yield bytes(5 * 1024 * 1024, 2); // one full chunk is written before the next arrives
        const pending = (await client.keys('ttl:{art:t/x.bin}:v2:*'))[0] ?? '';
        pendingTtl = await client.pttl(pending);
        yield bytes(10, 3);
      }
      await store.put('t/x.bin', slow());
      assert.ok(pendingTtl > 0, `pending chunk carried a TTL (${pendingTtl})`);
    } finally {
      client.disconnect();
    }
  });

  it('dir: a killed write leaves a temp file that purgeIncomplete removes, and only that', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-artifacts-'));
    try {
      const store = new DirArtifactStore(root);
      await store.put('t/keep.bin', bytes(10, 1));
      fs.mkdirSync(path.join(root, '.tmp'), { recursive: true });
      fs.writeFileSync(path.join(root, '.tmp', 'dead-writer'), bytes(77, 2));
      assert.deepEqual(await store.purgeIncomplete(60_000), { items: 0, bytes: 0 }, 'too young');
      assert.deepEqual(await store.purgeIncomplete(0), { items: 1, bytes: 77 });
      assert.equal((await store.get('t/keep.bin'))?.bytes, 10);
      assert.deepEqual(fs.readdirSync(path.join(root, '.tmp')), []);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('opens each backend from its setting and names what is wrong with a bad one', async () => {
    const client = redisServer.client();
    try {
      assert.equal(openArtifactStore('dir:/tmp/x').location, 'dir:/tmp/x');
      const s3 = openArtifactStore('s3://bkt/a/b?endpoint=http%3A%2F%2F127.0.0.1%3A9&path_style=1');
      assert.equal(s3.scheme, 's3');
      assert.match(s3.location, /^s3:\/\/bkt\/a\/b\/ at http:\/\/127\.0\.0\.1:9$/);
      await s3.close();
      const r = openArtifactStore('redis:?max_bytes=5', { redis: client });
      assert.equal((r as RedisArtifactStore).maxBytes, 5);
      assert.throws(
        () => openArtifactStore('ftp://x'),
        /unknown scheme 'ftp' \(known: dir:, s3:, redis:\)/,
      );
      assert.throws(() => openArtifactStore('dir:'), /dir: needs a path/);
      assert.throws(() => openArtifactStore('s3://k:secret@bkt/p'), /no credentials in the URL/);
      assert.throws(() => openArtifactStore('s3://bkt/p?endpont=x'), /unknown parameter 'endpont'/);
      assert.throws(() => openArtifactStore('redis'), /needs the run's Redis connection/);
      assert.throws(() => openArtifactStore('redis:?max_bytes=-1', { redis: client }), /max_bytes/);
    } finally {
      client.disconnect();
    }
  });
});
