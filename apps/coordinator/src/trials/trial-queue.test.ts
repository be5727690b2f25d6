/** The BullMQ trial queue on a real redis-server, through the contract every queue passes. */
import { randomUUID } from 'node:crypto';
import { after, before, describe } from 'node:test';
import { startRedisServer, type RedisServerHandle } from '@mmim/param-server/testing';
import { Redis } from 'ioredis';
import { trialQueueContract } from '../testing/queue-contract.js';
import { TrialQueue } from './trial-queue.js';

describe('TrialQueue on a real redis-server', () => {
  let server: RedisServerHandle;
  const clients: Redis[] = [];
  before(async () => {
    server = await startRedisServer();
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await server.stop();
  });
  const openOn = async (prefix: string): Promise<TrialQueue> => {
    // BullMQ's connections block: they must never give up on a command.
    const redis = new Redis({ port: server.port, maxRetriesPerRequest: null });
    clients.push(redis);
    return TrialQueue.open({ connection: redis, redis, prefix });
  };
  const prefixes = new WeakMap<TrialQueue, string>();

  trialQueueContract('TrialQueue (BullMQ)', {
    open: async () => {
      const prefix = `q${randomUUID().slice(0, 8)}`;
      const q = await openOn(prefix);
      prefixes.set(q, prefix);
      return q;
    },
    reopen: async (queue) => {
      const prefix = prefixes.get(queue as TrialQueue) ?? '';
      await queue.close();
      const q = await openOn(prefix);
      prefixes.set(q, prefix);
      return q;
    },
  });
});
