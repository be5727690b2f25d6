/** The coordinator's --artifacts: opened, published for the workers, kept across restarts. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CheckpointStore } from '@mmim/experiments';
import { startRedisServer, type RedisServerHandle } from '@mmim/param-server/testing';
import type { Logger } from '@mmim/runtime';
import type { Redis } from 'ioredis';
import { openCheckpoints } from './artifacts.js';
import { parseConfig } from './options.js';

describe('coordinator --artifacts', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  let root: string;
  const logged: { artifacts: unknown; msg: string }[] = [];
  const log = {
    info: (o: { artifacts: unknown }, msg: string) => logged.push({ ...o, msg }),
    warn: (msg: string) => logged.push({ artifacts: null, msg }),
  } as unknown as Logger;
  before(async () => {
    server = await startRedisServer();
    redis = server.client();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-coord-art-'));
  });
  after(async () => {
    redis.disconnect();
    await server.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('reads the flag, else MMIM_ARTIFACTS, else null', () => {
    const tokenFile = path.join(root, 'token');
    fs.writeFileSync(tokenFile, 'y'.repeat(40));
    const base = ['--token-file', tokenFile];
    const env = {};
    assert.equal(parseConfig(base, env).artifacts, null);
    assert.equal(parseConfig(base, { ...env, MMIM_ARTIFACTS: 'redis' }).artifacts, 'redis');
    assert.equal(
      parseConfig([...base, '--artifacts', 'dir:/x'], { ...env, MMIM_ARTIFACTS: 'redis' })
        .artifacts,
      'dir:/x',
    );
  });

  it('warns when nothing chose a store (checkpoints in Redis, uncapped, as before)', async () => {
    const c = await openCheckpoints(redis, null, log);
    assert.match(logged.at(-1)?.msg ?? '', /checkpoints go to Redis, uncapped \(no --artifacts\)/);
    await c.close();
  });

  it('publishes a dir store by its absolute path; a worker with no flag writes there; a restart without the flag keeps it', async () => {
    const cwd = process.cwd();
    process.chdir(root);
    let coordinator: CheckpointStore;
    try {
      coordinator = await openCheckpoints(redis, 'dir:run/artifacts', log);
    } finally {
      process.chdir(cwd);
    }
    const absolute = path.join(root, 'run', 'artifacts');
    assert.equal(await redis.get('mmim:artifacts:store'), `dir:${absolute}`);
    const worker = new CheckpointStore(redis); // a trial thread: no store of its own
    await worker.put('w1', 'last', new Uint8Array([1, 2, 3]), 1, 1);
    assert.ok(fs.existsSync(path.join(absolute, 'trials', 'w1', 'last', 'v1.safetensors')));
    assert.deepEqual(
      [...((await coordinator.get('w1', 'last'))?.data ?? [])],
      [1, 2, 3],
      'the coordinator reads what the worker wrote',
    );
    const restarted = await openCheckpoints(redis, null, log);
    assert.equal((await restarted.target()).location, `dir:${absolute}`);
    assert.equal(logged.at(-1)?.artifacts, `dir:${absolute}`);
    for (const c of [coordinator, worker, restarted]) await c.close();
  });

  it('refuses a bad setting naming the flag and the known schemes', async () => {
    await assert.rejects(
      openCheckpoints(redis, 'ftp://host/x', log),
      /--artifacts: artifact store "ftp:\/\/host\/x": unknown scheme 'ftp' \(known: dir:, s3:, redis:\)/,
    );
  });
});
