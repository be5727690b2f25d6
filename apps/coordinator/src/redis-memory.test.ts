/**
 * The Redis memory watch on a real redis-server whose maxmemory the test moves around the
 * current used_memory, and its gate on the dispatcher (in-memory harness): at 90% new trials
 * stay queued with a message naming the numbers, a running trial is left alone, and they start
 * again below 85%.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startRedisServer, type RedisServerHandle } from '@mmim/param-server/testing';
import type { Logger } from '@mmim/runtime';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { parseInfoMemory, RedisMemoryWatch } from './redis-memory.js';
import { settle, trialHarness } from './testing/trial-harness.js';

describe('RedisMemoryWatch', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  const logged: string[] = [];
  const log = {
    warn: (_o: unknown, msg: string) => logged.push(`warn ${msg}`),
    info: (_o: unknown, msg: string) => logged.push(`info ${msg}`),
  } as unknown as Logger;
  /** Sets maxmemory so that the current used_memory is `fraction` of it. */
  const fill = async (fraction: number): Promise<void> => {
    const { usedBytes } = parseInfoMemory(await redis.info('memory'));
    await redis.config('SET', 'maxmemory', String(Math.ceil(usedBytes / fraction)));
  };
  before(async () => {
    server = await startRedisServer();
    redis = server.client();
    await redis.set('ballast', 'x'.repeat(4 * 1024 * 1024)); // used_memory steadier than noise
  });
  after(async () => {
    redis.disconnect();
    await server.stop();
  });

  it('reads used_memory and maxmemory from INFO memory, naming a missing field', () => {
    assert.deepEqual(parseInfoMemory('# Memory\r\nused_memory:123\r\nmaxmemory:456\r\n'), {
      usedBytes: 123,
      maxBytes: 456,
    });
    assert.throws(() => parseInfoMemory('used_memory:1\r\n'), /no maxmemory field/);
  });

  it('refuses at 90%, keeps refusing above 85%, resumes below, and exports the gauges', async () => {
    const registry = new Registry();
    const watch = new RedisMemoryWatch({ redis, log, registry });
    await fill(0.5);
    assert.equal((await watch.sample()).refusing, false);
    assert.equal(watch.refusal(), null);
    await fill(0.95);
    const full = await watch.sample();
    assert.equal(full.refusing, true);
    assert.match(
      watch.refusal() ?? '',
      /^Redis is 9\d% full \(\d+ MiB of maxmemory \d+ MiB\): new trials wait until it is below 85%; free checkpoints \(mmim sweep gc ID\)/,
    );
    assert.ok(logged.some((l) => l.startsWith('warn Redis is 9')));
    const text = await registry.metrics();
    assert.match(text, new RegExp(`mmim_redis_used_memory_bytes ${full.usedBytes}`));
    assert.match(text, new RegExp(`mmim_redis_maxmemory_bytes ${full.maxBytes}`));
    assert.match(text, /mmim_trial_starts_refused 1/);
    await fill(0.87);
    assert.equal((await watch.sample()).refusing, true, 'between 85% and 90%: still refusing');
    await fill(0.7);
    assert.equal((await watch.sample()).refusing, false);
    assert.ok(logged.includes('info Redis has room again: trials start again'));
    assert.match(await registry.metrics(), /mmim_trial_starts_refused 0/);
    await redis.config('SET', 'maxmemory', '0');
    const unlimited = await watch.sample();
    assert.equal(unlimited.maxBytes, 0);
    assert.equal(unlimited.refusing, false, 'no limit: never refused');
  });

  it('refuses a bad threshold pair at construction', () => {
    assert.throws(
      () => new RedisMemoryWatch({ redis, log, refuseAt: 0.8, resumeAt: 0.9 }),
      /need 0 < resumeAt <= refuseAt <= 1/,
    );
  });

  it('gates the dispatcher: new trials stay queued, the running one is untouched, then they start', async () => {
    const watch = new RedisMemoryWatch({ redis, log });
    const h = trialHarness();
    h.manager.setStartGate(() => watch.refusal());
    await h.manager.start();
    const a = h.join('a');
    const b = h.join('b');
    await h.submit('running-before');
    assert.deepEqual(h.assigned(a), ['running-before']);
    await fill(0.95);
    await watch.sample();
    await h.submit('new-one');
    h.manager.pump();
    await settle();
    assert.deepEqual(h.assigned(b), [], 'no new trial starts');
    assert.equal((await h.trial('new-one')).state, 'queued');
    assert.equal(await h.queue.depth(), 1, 'it waits in the durable queue');
    assert.equal((await h.trial('running-before')).state, 'running', 'the running one goes on');
    await fill(0.5);
    await watch.sample();
    h.manager.pump();
    await settle();
    assert.deepEqual(h.assigned(b), ['new-one']);
    await redis.config('SET', 'maxmemory', '0');
  });
});
