/** Adoption after a coordinator restart (adoption.ts), on shared in-memory state. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { settle, trialHarness, type TrialHarness } from '../testing/trial-harness.js';

/** A first coordinator runs `pair` on workers g0 and g1, then "dies" (its state stays). */
async function runningThenRestart(): Promise<{ before: TrialHarness; after: TrialHarness }> {
  const before = trialHarness();
  await before.manager.start();
  before.join('g0');
  before.join('g1');
  await before.submit('pair', 2);
  assert.equal((await before.trial('pair')).state, 'running');
  await before.manager.close();
  const after = trialHarness({ store: before.store, queueState: before.queue.state });
  await after.manager.start();
  return { before, after };
}

describe('Adoptions', () => {
  it('adopts a running trial when all its workers come back training it', async () => {
    const { after: h } = await runningThenRestart();
    const g0 = h.join('g0', { state: 'WORKER_STATE_TRAINING', trialId: 'pair', rank: 0 });
    assert.equal(h.scheduler.isRunning('pair'), false, 'half a group is not adopted');
    const g1 = h.join('g1', { state: 'WORKER_STATE_TRAINING', trialId: 'pair', rank: 1 });
    await settle();
    assert.ok(h.scheduler.isRunning('pair'));
    assert.deepEqual([g0.record.assignment?.rank, g1.record.assignment?.rank], [0, 1]);
    assert.deepEqual(h.stopped(g0), []);
    const t = await h.trial('pair');
    assert.equal(t.attempts, 1, 'adoption is not a new attempt');
    assert.equal((await h.store.events('pair')).at(-1)?.type, 'resumed');
    // Their reports count again: rank 0 completes the trial.
    await h.manager.reports.ended(g0.record, {
      trialId: 'pair',
      rank: 0,
      outcome: 'TRIAL_OUTCOME_COMPLETED',
      error: '',
      resultJson: '{}',
    });
    assert.equal((await h.trial('pair')).state, 'completed');
    assert.equal(await h.queue.stateOf('pair'), 'completed');
  });

  it('re-queues a trial whose group is not whole by the deadline and stops the rank that came back', async () => {
    const { after: h } = await runningThenRestart();
    const g0 = h.join('g0', { state: 'WORKER_STATE_TRAINING', trialId: 'pair', rank: 0 });
    h.tick(4999);
    await h.manager.checkAdoptions();
    assert.equal((await h.trial('pair')).state, 'running', 'still within the grace');
    h.tick(2);
    await h.manager.checkAdoptions();
    await settle();
    assert.deepEqual(h.stopped(g0), ['pair']);
    assert.equal(g0.record.assignment, null);
    assert.equal((await h.store.events('pair')).at(-1)?.type, 'requeued');
    assert.equal(await h.queue.stateOf('pair'), 'waiting');
  });

  it('tells a worker training a trial nobody placed on it to stop (an orphan)', async () => {
    const h = trialHarness();
    await h.manager.start();
    const w = h.join('stray', { state: 'WORKER_STATE_TRAINING', trialId: 'elsewhere', rank: 0 });
    assert.deepEqual(h.stopped(w), ['elsewhere']);
  });

  it('ignores a worker whose name is not the one the record placed at that rank', async () => {
    const { after: h } = await runningThenRestart();
    const wrong = h.join('g9', { state: 'WORKER_STATE_TRAINING', trialId: 'pair', rank: 0 });
    assert.equal(wrong.record.assignment, null);
    assert.deepEqual(h.stopped(wrong), []);
  });
});
