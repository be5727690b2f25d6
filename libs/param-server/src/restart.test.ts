/** A Redis restart between steps (AOF, fsync always) loses nothing: training ends the same. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startRedisServer, type RedisServerHandle } from './testing/redis-server.js';
import { maxAbsDiff, reference, simulate, type SimOptions } from './testing/simulate.js';

describe('Redis restart with AOF', () => {
  let server: RedisServerHandle;
  before(async () => {
    server = await startRedisServer({ appendonly: true });
  });
  after(async () => {
    await server.stop();
  });

  it('continues after a restart between steps with the reference result', async () => {
    let restarts = 0;
    const opts: SimOptions = {
      worldSize: 2,
      steps: 3,
      chunkBytes: 64,
      optimizer: 'sgd',
      clipNorm: 0.5,
      between: async () => {
        await server.restart();
        restarts++;
      },
    };
    const got = await simulate('restart', () => server.client(), opts);
    assert.equal(restarts, 2);
    const want = reference(opts);
    for (const g of got) assert.ok(maxAbsDiff(g, want) < 1e-6, `diff ${maxAbsDiff(g, want)}`);
  });
});
