/** ParamStore's edge cases against a real redis-server: initialisation, retries, errors, cleanup. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { gatherFromChunks, makeChunkPlan, scatterToChunks } from './chunking.js';
import { ParamServerError, ParamServerTimeoutError } from './errors.js';
import { ParamStore, type ApplyFn } from './store.js';
import { startRedisServer, type RedisServerHandle } from './testing/redis-server.js';
import { SPECS, gradientOf, randomParams } from './testing/simulate.js';

const plan = makeChunkPlan(SPECS, 64);
const addGrad: ApplyFn = (_c, p, g) => {
  for (let i = 0; i < p.length; i++) p[i] = (p[i] as number) + (g[i] as number);
};

describe('ParamStore', () => {
  let server: RedisServerHandle;
  let client: Redis;
  let store: ParamStore;
  before(async () => {
    server = await startRedisServer();
    client = server.client();
    store = new ParamStore(client, { timeoutMs: 5000 });
  });
  after(async () => {
    await store.close();
    client.disconnect();
    await server.stop();
  });

  it('initialises once; a second call with the same plan is a no-op, another plan fails', async () => {
    const values = randomParams(1);
    assert.equal(await store.initialize('init', plan, values), true);
    assert.equal(await store.initialize('init', plan, randomParams(2)), false);
    const got = gatherFromChunks(plan, await store.pullParameters('init', -1));
    assert.deepEqual(got.get('b'), values.get('b'));
    assert.equal(await store.currentVersion('init'), 0);
    await assert.rejects(
      store.initialize('init', makeChunkPlan(SPECS, 32), values),
      /trial init: already initialised with a different plan/,
    );
    assert.equal(
      await store.initialize('init', plan, randomParams(2), { force: true, version: 5 }),
      true,
    );
    const forced = gatherFromChunks(plan, await store.pullParameters('init', 4));
    assert.deepEqual(forced.get('b'), randomParams(2).get('b'));
    const chunk = await store.readChunk('init', 1);
    assert.equal(chunk.version, 5);
    assert.deepEqual(chunk.m, new Float32Array(16));
  });

  it('a late rank reads the plan from Redis', async () => {
    await store.initialize('late', plan, randomParams(1), { ownership: 'balanced' });
    const other = new ParamStore(client);
    const { plan: p, ownership } = await other.getPlan('late');
    assert.equal(ownership, 'balanced');
    assert.deepEqual(p, plan);
    await other.close();
  });

  it('applies a chunk at most once per step, even when retried', async () => {
    await store.initialize('retry', plan, randomParams(1));
    await store.publishGradients('retry', 0, 0, scatterToChunks(plan, gradientOf(0, 0)));
    let calls = 0;
    const counting: ApplyFn = (...args) => {
      calls++;
      return addGrad(...args);
    };
    const first = await store.reduceAndApply('retry', 0, 0, 1, counting);
    assert.deepEqual(first.applied, [0, 1, 2, 3, 4]);
    const again = await store.reduceAndApply('retry', 0, 0, 1, counting);
    assert.deepEqual(again.applied, []);
    assert.deepEqual(again.skipped, [0, 1, 2, 3, 4]);
    assert.equal(calls, 5);
    const got = gatherFromChunks(plan, await store.pullParameters('retry', 0));
    const want = (randomParams(1).get('a') as Float32Array).map(
      (x, i) => x + (gradientOf(0, 0).get('a') as Float32Array)[i]!,
    );
    assert.deepEqual(got.get('a'), want);
    // Pulling an older step once parameters moved on is an error, not stale data.
    await assert.rejects(store.pullParameters('retry', -1), /expected 0/);
  });

  it('times out with the trial, step and missing ranks named', async () => {
    await store.initialize('slow', plan, randomParams(1));
    await store.publishGradients('slow', 0, 0, scatterToChunks(plan, gradientOf(0, 0)));
    await assert.rejects(
      store.reduceAndApply('slow', 0, 0, 3, addGrad, { timeoutMs: 300 }),
      (e: unknown) =>
        e instanceof ParamServerTimeoutError &&
        /trial slow, step 0, rank 0: waiting for gradients from rank\(s\) 1, 2 of 3/.test(
          e.message,
        ),
    );
    await assert.rejects(
      store.pullParameters('slow', 0, { timeoutMs: 300 }),
      /trial slow, step 0: waiting for chunk\(s\) 0, 1, 2, 3, 4 to be applied/,
    );
    await assert.rejects(
      store.globalGradNorm('slow', 0, 2, { timeoutMs: 200 }),
      /norm parts from rank\(s\) 0, 1/,
    );
    await assert.rejects(
      new ParamStore(client).getPlan('never', { timeoutMs: 100 }),
      /trial never: waiting for the trial to be initialised/,
    );
  });

  it('names the rank and chunk of a missing gradient', async () => {
    await store.initialize('gone', plan, randomParams(1));
    await store.publishGradients('gone', 0, 0, scatterToChunks(plan, gradientOf(0, 0)));
    await store.publishGradients('gone', 0, 1, scatterToChunks(plan, gradientOf(0, 1)));
    await client.del(store.keys('gone').grad(0, 1, 2));
    await assert.rejects(
      store
        .reduceAndApply('gone', 0, 0, 1, addGrad)
        .then(() => store.reduceGradients('gone', 0, 0, 2)),
      (e: unknown) =>
        e instanceof ParamServerError &&
        /step 0, rank 1, chunk 2: gradient missing/.test(e.message),
    );
  });

  it('refuses to skip steps and to clean up an unfinished step; cleans a finished one', async () => {
    await store.initialize('clean', plan, randomParams(1));
    await store.publishGradients('clean', 1, 0, scatterToChunks(plan, gradientOf(1, 0)));
    await assert.rejects(
      store.reduceAndApply('clean', 1, 0, 1, addGrad),
      /chunk 0: chunk is at version 0/,
    );
    await assert.rejects(store.cleanupStep('clean', 0, 1), /step not complete/);
    await store.publishGradients('clean', 0, 0, scatterToChunks(plan, gradientOf(0, 0)));
    await store.reduceAndApply('clean', 0, 0, 1, addGrad, { clipNorm: 1 });
    await store.pullParameters('clean', 0);
    const removed = await store.cleanupStep('clean', 0, 1);
    assert.equal(removed, 5 + 4); // 5 gradient chunks, ready + norm streams, counter, done stream
    assert.equal(await client.exists(store.keys('clean').grad(0, 0, 0)), 0);
    assert.ok((await client.pttl(store.keys('clean').grad(1, 0, 0))) > 0, 'gradients are TTLd');
    assert.ok((await store.deleteTrial('clean')) > 0);
    assert.equal(await store.currentVersion('clean'), null);
  });

  it('validates gradient shapes before writing', async () => {
    await store.initialize('shape', plan, randomParams(1));
    await assert.rejects(
      store.publishGradients('shape', 0, 0, []),
      /got 0 gradient chunks, plan has 5/,
    );
    const bad = scatterToChunks(plan, gradientOf(0, 0));
    bad[3] = new Float32Array(3);
    await assert.rejects(
      store.publishGradients('shape', 0, 0, bad),
      /rank 0, chunk 3: gradient has 3 elements/,
    );
  });
});
