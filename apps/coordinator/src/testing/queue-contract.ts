/**
 * The behaviour every TrialQueueApi must have, as a node:test suite run against the BullMQ
 * queue on a real redis-server (trials/trial-queue.test.ts) and the in-memory one
 * (testing/memory-queue.test.ts), so unit tests on the in-memory queue hold for the real one.
 * `open` gives a queue on fresh state; `reopen` a second incarnation on the same state (a
 * restarted coordinator).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TrialJobData, TrialQueueApi } from '../trials/queue-api.js';

export interface QueueFactory {
  open(): Promise<TrialQueueApi & { close(): Promise<void> }>;
  /** A new queue on the state of `queue` (which is closed first). */
  reopen(
    queue: TrialQueueApi & { close(): Promise<void> },
  ): Promise<TrialQueueApi & { close(): Promise<void> }>;
}

const job = (trialId: string, worldSize = 1): TrialJobData => ({
  trialId,
  sweepId: null,
  worldSize,
});

export function trialQueueContract(name: string, factory: QueueFactory): void {
  describe(`TrialQueueApi contract: ${name}`, () => {
    it('hands out waiting trials first in, first out, each once, and holds them', async () => {
      const q = await factory.open();
      try {
        await q.enqueue(job('a'), 3);
        await q.enqueue(job('b', 2), 3);
        await q.enqueue(job('a'), 3); // a duplicate id: no second job
        assert.equal(await q.depth(), 2);
        assert.deepEqual(await q.take(), job('a'));
        assert.equal(await q.stateOf('a'), 'active');
        assert.deepEqual(await q.take(), job('b', 2));
        assert.equal(await q.take(), null);
        assert.deepEqual(
          q.held().map((j) => j.trialId),
          ['a', 'b'],
        );
        assert.equal(await q.stateOf('nope'), 'unknown');
      } finally {
        await q.close();
      }
    });

    it('completes a held job once; a completed trial is never queued again', async () => {
      const q = await factory.open();
      try {
        await q.enqueue(job('c'), 3);
        await q.take();
        await q.complete('c', { ok: true });
        await q.complete('c', { ok: true }); // twice is harmless
        assert.equal(await q.stateOf('c'), 'completed');
        assert.deepEqual(q.held(), []);
        await q.enqueue(job('c'), 3);
        assert.equal(await q.depth(), 0);
        assert.equal(await q.take(), null);
      } finally {
        await q.close();
      }
    });

    it('retries a failing trial until its attempts are used, then keeps the error', async () => {
      const q = await factory.open();
      try {
        await q.enqueue(job('f'), 2);
        await q.take();
        await q.enqueue(job('g'), 2);
        assert.equal(await q.fail('f', 'first'), 'retry');
        assert.equal(await q.stateOf('f'), 'waiting');
        // A retry waits its turn behind the trials already waiting.
        assert.deepEqual(await q.take(), job('g'));
        assert.deepEqual(await q.take(), job('f'));
        assert.equal(await q.fail('f', 'rank 0: out of memory'), 'dead');
        assert.equal(await q.stateOf('f'), 'failed');
        assert.equal(await q.failedReason('f'), 'rank 0: out of memory');
        assert.equal(await q.fail('f', 'again'), 'dead', 'a job not held is dead');
        assert.equal(await q.take(), null);
      } finally {
        await q.close();
      }
    });

    it('requeues a held trial without using an attempt, ahead of the trials waiting', async () => {
      const q = await factory.open();
      try {
        await q.enqueue(job('r'), 1);
        await q.enqueue(job('s'), 1);
        await q.take();
        await q.requeue('r');
        assert.equal(await q.stateOf('r'), 'waiting');
        assert.deepEqual(q.held(), []);
        // It ran already (its worker was lost): it resumes before trials that never started.
        assert.deepEqual(await q.take(), job('r'));
        assert.deepEqual(await q.take(), job('s'));
        // One attempt allowed and none used by the requeue: the first failure is the last.
        assert.equal(await q.fail('r', 'boom'), 'dead');
      } finally {
        await q.close();
      }
    });

    it('removes only waiting trials; a removed trial may be queued again', async () => {
      const q = await factory.open();
      try {
        await q.enqueue(job('w'), 3);
        await q.enqueue(job('h'), 3);
        assert.equal(await q.remove('w'), true);
        assert.equal(await q.remove('w'), false);
        assert.equal(await q.stateOf('w'), 'unknown');
        assert.deepEqual(await q.take(), job('h'));
        assert.equal(await q.remove('h'), false, 'a held trial is not removed');
        assert.equal(await q.remove('nope'), false);
        await q.enqueue(job('w'), 3);
        assert.equal(await q.depth(), 1);
      } finally {
        await q.close();
      }
    });

    it('a restarted coordinator still holds what it had taken; waiting trials still wait', async () => {
      const first = await factory.open();
      await first.enqueue(job('x'), 3);
      await first.enqueue(job('y'), 3);
      await first.take();
      const second = await factory.reopen(first);
      try {
        assert.deepEqual(
          second.held().map((j) => j.trialId),
          ['x'],
        );
        assert.equal(await second.stateOf('x'), 'active');
        await second.complete('x', null);
        assert.equal(await second.stateOf('x'), 'completed');
        assert.deepEqual(await second.take(), job('y'));
      } finally {
        await second.close();
      }
    });
  });
}
