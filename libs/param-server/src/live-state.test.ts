/**
 * The live state's fencing and clean-up against a real redis-server: a newer attempt's fence
 * makes an older attempt's head commit fail (StaleLiveAttemptError) and leaves the head as the
 * newer attempt wrote it; an attempt older than the fence cannot even start; a lost fence (the
 * Redis lost its data) refuses every commit until an attempt raises it again; chunks of other
 * attempts are dropped, the fence survives the final clean-up.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LiveStateStore, StaleLiveAttemptError } from './live-state.js';
import { startRedisServer, type RedisServerHandle } from './testing/redis-server.js';

describe('live state in Redis', () => {
  let server: RedisServerHandle;
  before(async () => {
    server = await startRedisServer();
  });
  after(async () => {
    await server.stop();
  });

  it('refuses a stale attempt and keeps the newer head', async () => {
    const client = server.client();
    try {
      const old = new LiveStateStore(client, 'fenced', 1);
      await old.fence();
      const p1 = client.pipeline();
      old.writeChunk(p1, 0, 3, 'p', Buffer.from([1, 2, 3, 4]));
      await p1.exec();
      await old.commit({ plan: 'x', chunkVersions: [3], cursor: { step: 3 } });
      assert.equal((await old.readHead())?.attempt, 1);

      const fresh = new LiveStateStore(client, 'fenced', 2);
      await fresh.fence();
      const p2 = client.pipeline();
      fresh.writeChunk(p2, 0, 0, 'p', Buffer.from([5, 6, 7, 8]));
      await p2.exec();
      await fresh.commit({ plan: 'x', chunkVersions: [0], cursor: { step: 3 } });

      // The partitioned rank of attempt 1 comes back and tries to move the state on.
      await assert.rejects(
        old.commit({ plan: 'x', chunkVersions: [4], cursor: { step: 4 } }),
        (err: unknown) =>
          err instanceof StaleLiveAttemptError && /attempt 1 is stale/.test(String(err)),
      );
      await assert.rejects(old.fence(), StaleLiveAttemptError);
      const head = await fresh.readHead();
      assert.deepEqual(head, { attempt: 2, plan: 'x', chunkVersions: [0], cursor: { step: 3 } });
      const [bytes] = await fresh.readChunks(2, [{ chunk: 0, version: 0, kind: 'p' }]);
      assert.deepEqual([...(bytes ?? [])], [5, 6, 7, 8]);

      // Attempt 1's copy goes once attempt 2 committed; the end of the trial keeps the fence only.
      assert.equal(await fresh.dropOtherAttempts(), 1);
      await assert.rejects(
        fresh.readChunks(1, [{ chunk: 0, version: 3, kind: 'p' }]),
        /attempt 1, version 3, kind p is missing/,
      );
      // A Redis that lost its data (restarted without persistence) lost the fence: the attempt
      // that raised it can no longer commit a head naming chunks that went with it.
      await client.flushall();
      await assert.rejects(
        fresh.commit({ plan: 'x', chunkVersions: [1], cursor: { step: 4 } }),
        (err: unknown) => err instanceof StaleLiveAttemptError && /fence is gone/.test(String(err)),
      );
      assert.equal(await fresh.readHead(), null);
      await fresh.fence();
      await fresh.commit({ plan: 'x', chunkVersions: [0], cursor: { step: 3 } });
      await fresh.deleteAll();
      assert.deepEqual(await client.keys('*{trial:fenced}:live:*'), [
        'mmim:{trial:fenced}:live:fence',
      ]);
    } finally {
      client.disconnect();
    }
  });
});
