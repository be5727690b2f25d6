/** A trial's state changes (lifecycle.ts) on the in-memory store and queue. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { settle, trialHarness } from '../testing/trial-harness.js';

describe('TrialLifecycle', () => {
  it('cancels a waiting trial: out of the queue, cancelled, never run', async () => {
    const h = trialHarness();
    await h.manager.start();
    await h.submit('w');
    await h.manager.cancel('w', 'by a test');
    assert.equal((await h.trial('w')).state, 'cancelled');
    assert.equal(await h.queue.stateOf('w'), 'unknown');
    const a = h.join('a');
    await settle();
    assert.deepEqual(h.assigned(a), []);
    const events = (await h.store.events('w')).map((e) => e.type);
    assert.deepEqual(events, ['queued', 'cancelled']);
  });

  it('cancels a running trial: its workers are told to stop and take the next trial', async () => {
    const h = trialHarness();
    await h.manager.start();
    const a = h.join('a');
    await h.submit('r');
    await h.submit('next');
    await h.manager.cancel('r', 'by a test');
    await settle();
    assert.deepEqual(h.stopped(a), ['r']);
    assert.equal(await h.queue.stateOf('r'), 'completed');
    assert.equal((await h.trial('r')).state, 'cancelled');
    a.beat({}); // idle again
    await settle();
    assert.deepEqual(h.assigned(a), ['r', 'next']);
    await h.manager.cancel('r', 'again'); // ended: nothing happens
    assert.equal((await h.store.events('r')).filter((e) => e.type === 'cancelled').length, 1);
  });

  it('frees the gang of a trial cancelled between leaving the queue and its placement', async () => {
    const h = trialHarness();
    await h.manager.start();
    await h.submit('race');
    // As if the cancel's store write landed while the trial was on its way to the scheduler.
    await h.store.updateTrial('race', { state: 'cancelled' });
    await h.manager.lifecycle.placed({ trialId: 'race', worldSize: 1, workerIds: ['w'] });
    assert.equal((await h.trial('race')).state, 'cancelled', 'not marked running');
  });

  it('puts a broken trial back first in line without using an attempt, resuming from its checkpoint', async () => {
    const h = trialHarness({ leaseMs: 1000 });
    await h.manager.start();
    const a = h.join('a');
    const b = h.join('b');
    await h.submit('pair', 2);
    await h.submit('other');
    h.checkpoints.set('pair', 3);
    h.tick(600);
    a.beat({ state: 'WORKER_STATE_TRAINING', trialId: 'pair', rank: 0 });
    h.tick(600); // b silent for more than a lease
    h.pool.sweep();
    await settle();
    const t = await h.trial('pair');
    assert.equal(t.state, 'queued');
    assert.deepEqual(await h.queue.take(), { trialId: 'pair', sweepId: null, worldSize: 2 });
    assert.equal(t.attempts, 1, 'the lost worker used no attempt');
    const events = (await h.store.events('pair')).map((e) => e.type);
    assert.deepEqual(events.slice(-2), ['worker-lost', 'requeued']);
    assert.deepEqual(h.stopped(a), ['pair']);
    void b;
  });

  it('retries a failing trial until its attempts are used, then fails it with the error', async () => {
    const h = trialHarness();
    await h.manager.start();
    const a = h.join('a');
    await h.submit('f');
    for (let attempt = 1; attempt <= 3; attempt++) {
      await h.manager.reports.ended(a.record, {
        trialId: 'f',
        rank: 0,
        outcome: 'TRIAL_OUTCOME_FAILED',
        error: `boom ${attempt}`,
        resultJson: '',
      });
      a.beat({});
      await settle();
    }
    const t = await h.trial('f');
    assert.equal(t.state, 'failed');
    assert.equal(t.attempts, 3);
    assert.match(t.error ?? '', /rank 0 on a: boom 3/);
    assert.equal(await h.queue.failedReason('f'), 'rank 0 on a: boom 3');
    assert.deepEqual(h.assigned(a), ['f', 'f', 'f']);
  });

  it('writes an end to the store before settling the queue job', async () => {
    const h = trialHarness();
    await h.manager.start();
    h.join('a');
    await h.submit('order');
    const seen: string[] = [];
    const complete = h.queue.complete.bind(h.queue);
    h.queue.complete = async (id, result) => {
      seen.push(`job completed; trial is ${(await h.trial(id)).state}`);
      return complete(id, result);
    };
    await h.manager.prune('order', 'stopped early');
    assert.deepEqual(seen, ['job completed; trial is pruned']);
  });
});
