/**
 * The whole step protocol in one process against a real redis-server: K simulated ranks end
 * with the parameters of the single-process reference.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startRedisServer, type RedisServerHandle } from './testing/redis-server.js';
import { maxAbsDiff, reference, simulate, type SimOptions } from './testing/simulate.js';

describe('synchronous data-parallel protocol', () => {
  let server: RedisServerHandle;
  before(async () => {
    server = await startRedisServer();
  });
  after(async () => {
    await server.stop();
  });

  const cases: (SimOptions & { label: string })[] = [
    { label: 'K=1', worldSize: 1, steps: 3, chunkBytes: 64 },
    { label: 'K=2', worldSize: 2, steps: 3, chunkBytes: 64 },
    { label: 'K=2 sgd', worldSize: 2, steps: 3, chunkBytes: 64, optimizer: 'sgd' },
    { label: 'K=3', worldSize: 3, steps: 4, chunkBytes: 64 },
    {
      label: 'K=3 clipped',
      worldSize: 3,
      steps: 3,
      chunkBytes: 64,
      clipNorm: 0.5,
      optimizer: 'sgd',
    },
    // 4 ranks, 3 chunks: rank 3 owns nothing but still takes part in the norm.
    {
      label: 'K=4, a rank without chunks, clipped',
      worldSize: 4,
      steps: 3,
      chunkBytes: 128,
      clipNorm: 0.5,
    },
    // Megabyte-sized chunks: real socket buffers (unaligned views, split reads).
    {
      label: 'K=2, 1 MiB chunks',
      worldSize: 2,
      steps: 2,
      chunkBytes: 1 << 20,
      specs: [
        { name: 'emb', size: 400_000 },
        { name: 'w', size: 300_001 },
        { name: 'b', size: 7 },
      ],
    },
  ];
  for (const c of cases) {
    it(`${c.label}: matches the single-process reference`, async () => {
      const got = await simulate(`proto-${c.label.replace(/\W+/g, '-')}`, () => server.client(), c);
      const want = reference(c);
      assert.equal(got.length, c.worldSize);
      for (const g of got) assert.ok(maxAbsDiff(g, want) < 1e-6, `diff ${maxAbsDiff(g, want)}`);
    });
  }

  it('never stores a value bigger than chunkBytes', async () => {
    const chunkBytes = 64;
    await simulate('sizes', () => server.client(), { worldSize: 2, steps: 2, chunkBytes });
    const client = server.client();
    try {
      let cursor = '0';
      let checked = 0;
      do {
        const [next, keys] = await client.scan(
          cursor,
          'MATCH',
          'mmim:{trial:sizes}:*',
          'COUNT',
          100,
        );
        cursor = next;
        for (const k of keys) {
          if ((await client.type(k)) !== 'string' || k.endsWith(':meta')) continue;
          assert.ok((await client.strlen(k)) <= chunkBytes, `${k} is over ${chunkBytes} bytes`);
          checked++;
        }
      } while (cursor !== '0');
      assert.ok(checked > 10);
    } finally {
      client.disconnect();
    }
  });
});
