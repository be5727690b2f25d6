/** Dispatch on the in-memory store and queue (testing/trial-harness.ts): milliseconds a test. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { settle, trialHarness } from '../testing/trial-harness.js';

describe('Dispatcher (trials from the queue to the gang scheduler)', () => {
  it('places a queued trial on an idle worker and keeps the next one in the queue', async () => {
    const h = trialHarness();
    await h.manager.start();
    const a = h.join('a');
    await h.submit('t1');
    await h.submit('t2');
    assert.deepEqual(h.assigned(a), ['t1']);
    assert.equal((await h.trial('t1')).state, 'running');
    assert.equal((await h.trial('t1')).attempts, 1);
    assert.equal((await h.trial('t2')).state, 'queued');
    assert.equal(await h.queue.depth(), 1, 't2 stays in the durable queue, not the scheduler');
    assert.deepEqual(h.scheduler.pending(), []);
  });

  it('takes nothing before start() (a restart restores the held trials first)', async () => {
    const h = trialHarness();
    h.join('a');
    await h.submit('early');
    assert.equal(await h.queue.depth(), 1);
    await h.manager.start();
    await settle();
    assert.equal((await h.trial('early')).state, 'running');
  });

  it('takes each trial once however often pump is asked for', async () => {
    const h = trialHarness();
    await h.manager.start();
    const workers = ['a', 'b', 'c'].map((n) => h.join(n));
    for (let i = 0; i < 5; i++) await h.submit(`t${i}`);
    for (let i = 0; i < 20; i++) h.manager.pump();
    await settle();
    const all = workers.flatMap((w) => h.assigned(w));
    assert.deepEqual(all.sort(), ['t0', 't1', 't2']);
    assert.equal(await h.queue.depth(), 2);
  });

  it('parks a trial whose sweep is paused and dispatches it when the sweep resumes', async () => {
    let paused = true;
    const h = trialHarness({
      hooks: {
        metricOf: async () => ({ name: 'valid.mae', goal: 'minimize' }),
        onEpoch: async () => 'continue',
        onTrialEnd: async () => undefined,
        mayStart: async () => !paused,
      },
    });
    await h.manager.start();
    const a = h.join('a');
    await h.submit('s-t0', 1, { sweepId: 's' });
    assert.deepEqual(h.assigned(a), []);
    assert.ok(h.manager.dispatcher.isParked('s-t0'));
    assert.deepEqual(h.queue.held(), [{ trialId: 's-t0', sweepId: 's', worldSize: 1 }]);
    paused = false;
    await h.manager.resumeParked('s');
    await settle();
    assert.deepEqual(h.assigned(a), ['s-t0']);
  });

  it('completes the job of a trial that ended while it waited, instead of running it', async () => {
    const h = trialHarness();
    await h.manager.start();
    await h.submit('gone');
    await h.store.updateTrial('gone', { state: 'cancelled' });
    const a = h.join('a');
    await settle();
    assert.deepEqual(h.assigned(a), []);
    assert.equal(await h.queue.stateOf('gone'), 'completed');
  });

  it('fills idle workers past a waiting two-worker head (bounded backfill)', async () => {
    const h = trialHarness({ backfill: { maxJumps: 1 } });
    await h.manager.start();
    const a = h.join('a');
    const b = h.join('b');
    await h.submit('busy');
    await h.submit('head', 2);
    await h.submit('small-1');
    await h.submit('small-2');
    assert.deepEqual(h.assigned(a), ['busy']);
    assert.deepEqual(h.assigned(b), ['small-1'], 'one jump');
    assert.ok(h.scheduler.headReserved());
    assert.equal((await h.trial('small-2')).state, 'queued', 'no second jump');
  });
});
