import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { backoffDelay } from './backoff.js';
import { parseConfig } from './options.js';

describe('worker options', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-worker-')), 'token');
  fs.writeFileSync(file, 'from-file\n');

  it('reads the token from --token-file, else from MMIM_JOIN_TOKEN', () => {
    const a = parseConfig(['--coordinator', '127.0.0.1:1', '--token-file', file], {
      MMIM_JOIN_TOKEN: 'env',
    });
    assert.equal(a.joinToken, 'from-file');
    const b = parseConfig(['--coordinator', '[::1]:50051', '--name', 'n'], {
      MMIM_JOIN_TOKEN: 'env',
    });
    assert.equal(b.joinToken, 'env');
    assert.equal(b.workerName, 'n');
  });

  it('never takes the token from argv, and needs one', () => {
    // Refused by name, pointing to where the token goes (was parseArgs' "Unknown option").
    for (const argv of [['--token', 'x'], ['--token=x']])
      assert.throws(
        () => parseConfig(argv, {}),
        /--token is refused: .*--token-file FILE or MMIM_JOIN_TOKEN/,
      );
    assert.throws(() => parseConfig(['--coordinator', '127.0.0.1:1'], {}), /no join token/);
  });

  it('reads --redis, --run-dir and --backend, the first and last also from the environment', () => {
    const flags = parseConfig(
      ['--redis', 'redis://10.0.0.1:6380', '--run-dir', '/tmp/r', '--backend', 'cpu'],
      { MMIM_JOIN_TOKEN: 't', MMIM_REDIS_URL: 'redis://ignored:1', MMIM_BACKEND: 'wasm' },
    );
    assert.equal(flags.redisUrl, 'redis://10.0.0.1:6380');
    assert.equal(flags.runDir, '/tmp/r');
    assert.equal(flags.backend, 'cpu');
    const env = parseConfig([], {
      MMIM_JOIN_TOKEN: 't',
      MMIM_REDIS_URL: 'redis://127.0.0.1:6379',
      MMIM_BACKEND: 'wasm',
    });
    assert.equal(env.redisUrl, 'redis://127.0.0.1:6379');
    assert.equal(env.backend, 'wasm');
    const none = parseConfig([], { MMIM_JOIN_TOKEN: 't' });
    assert.equal(none.redisUrl, null);
    assert.equal(none.backend, 'auto');
    assert.throws(
      () => parseConfig(['--redis', '127.0.0.1:6379'], { MMIM_JOIN_TOKEN: 't' }),
      /redis:\/\//,
    );
    assert.throws(() => parseConfig(['--backend', 'tpu'], { MMIM_JOIN_TOKEN: 't' }), /backend/);
    // Every backend @mmim/runtime can force, webgpu included, from the flag and the environment.
    for (const backend of ['auto', 'tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu']) {
      assert.equal(parseConfig(['--backend', backend], { MMIM_JOIN_TOKEN: 't' }).backend, backend);
    }
    assert.equal(
      parseConfig([], { MMIM_JOIN_TOKEN: 't', MMIM_BACKEND: 'webgpu' }).backend,
      'webgpu',
    );
  });

  it('reads --exchange-redis (or MMIM_EXCHANGE_REDIS_URL), which needs --redis too', () => {
    const both = parseConfig(
      ['--redis', 'redis://10.0.0.1:6379', '--exchange-redis', 'redis://10.0.0.2:6379'],
      { MMIM_JOIN_TOKEN: 't' },
    );
    assert.equal(both.exchangeRedisUrl, 'redis://10.0.0.2:6379');
    const env = parseConfig([], {
      MMIM_JOIN_TOKEN: 't',
      MMIM_REDIS_URL: 'redis://10.0.0.1:6379',
      MMIM_EXCHANGE_REDIS_URL: 'redis://10.0.0.3:6379',
    });
    assert.equal(env.exchangeRedisUrl, 'redis://10.0.0.3:6379');
    assert.equal(parseConfig([], { MMIM_JOIN_TOKEN: 't' }).exchangeRedisUrl, null);
    assert.throws(
      () => parseConfig(['--exchange-redis', 'redis://10.0.0.2:6379'], { MMIM_JOIN_TOKEN: 't' }),
      /--exchange-redis needs --redis too/,
    );
    assert.throws(
      () =>
        parseConfig(['--redis', 'redis://a:1', '--exchange-redis', 'http://b'], {
          MMIM_JOIN_TOKEN: 't',
        }),
      /expected a redis:\/\/ or rediss:\/\/ URL/,
    );
  });

  it('rejects an address without a port', () => {
    assert.throws(
      () => parseConfig(['--coordinator', 'localhost'], { MMIM_JOIN_TOKEN: 't' }),
      /HOST:PORT/,
    );
  });
});

describe('backoffDelay', () => {
  it('grows exponentially to the cap, jittered between half and all of the step', () => {
    const opts = { initialMs: 100, maxMs: 1000 };
    assert.equal(backoffDelay(0, { ...opts, random: () => 1 }), 100);
    assert.equal(backoffDelay(0, { ...opts, random: () => 0 }), 50);
    assert.equal(backoffDelay(3, { ...opts, random: () => 1 }), 800);
    assert.equal(backoffDelay(50, { ...opts, random: () => 1 }), 1000);
  });
});
