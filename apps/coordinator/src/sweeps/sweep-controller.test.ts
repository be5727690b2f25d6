/**
 * The sweep controller on the in-memory store and queue (testing/trial-harness.ts): sweeps are
 * restored from a recorded sweep file, as after a restart (creating one loads the trainer's
 * schema, i.e. TF.js, which a unit test does not need).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixtureSweep } from '@mmim/experiments/testing';
import { createLogger } from '@mmim/runtime';
import { settle, trialHarness } from '../testing/trial-harness.js';
import { WorkersPerTrialLimit } from '../trials/admission.js';
import { SweepController } from './sweep-controller.js';

const SOURCE = (workers = 1) => `
name: unit
data: {synthetic: mosi, train: 12, valid: 4, test: 5}
method: grid
metric: {name: valid.mae, goal: minimize}
parameters:
  alpha: {values: [0.1, 0.2, 0.3]}
seeds: [1, 2]
workers_per_trial: ${workers}
trainer: {num_epochs: 1}
`;

async function withSweep(workers = 1, limit: number | null = null) {
  const h = trialHarness();
  await h.store.putSweep(
    fixtureSweep({
      id: 'sw',
      name: 'unit',
      spec: { source: SOURCE(workers) },
      runCap: 3,
      seeds: [1, 2],
      workersPerTrial: workers,
    }),
  );
  const sweeps = new SweepController({
    store: h.store,
    trials: h.manager,
    log: createLogger('test'),
    workerCount: () => h.pool.size,
    admission: limit === null ? null : new WorkersPerTrialLimit(limit, () => h.pool.size),
  });
  h.manager.setHooks(sweeps);
  await sweeps.start();
  await h.manager.start();
  return { h, sweeps };
}

const within = <T>(ms: number, what: string, p: Promise<T>): Promise<T> =>
  Promise.race([
    p,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms (deadlock)`)), ms),
    ),
  ]);

describe('SweepController', () => {
  it('cancels a sweep with running and queued trials without deadlocking (the cancel deadlock)', async () => {
    // Fixed in ba0f8a9: each trial's end waited for the sweep's lock, which the cancel held
    // while it ended those trials, so cancel never returned.
    const { h, sweeps } = await withSweep();
    const a = h.join('a');
    await settle();
    assert.equal(h.assigned(a).length, 1);
    const { trials } = await h.store.listTrials('sw');
    assert.ok(trials.length >= 2, `${trials.length} trials`);
    const cancelled = await within(1000, 'cancel', sweeps.cancel('sw'));
    assert.equal(cancelled.state, 'cancelled');
    await settle();
    const after = await h.store.listTrials('sw');
    assert.ok(after.trials.every((t) => t.state === 'cancelled'));
    assert.equal(after.total, trials.length, 'no trial created after the cancel');
    assert.deepEqual(h.stopped(a), [h.assigned(a)[0]]);
    assert.equal(await h.queue.depth(), 0);
  });

  it('deletes only an ended sweep: its checkpoints first, then its records', async () => {
    const { h, sweeps } = await withSweep();
    const a = h.join('a');
    await settle();
    const removed: string[][] = [];
    const removeCheckpoints = async (trials: readonly { id: string }[]) => {
      removed.push(trials.map((t) => t.id));
      return { checkpoints: 2 * trials.length, freedBytes: 1000 };
    };
    await assert.rejects(
      within(1000, 'delete', sweeps.delete('sw', removeCheckpoints)),
      /sweep sw is running: cancel it first/,
    );
    assert.deepEqual(removed, [], 'nothing removed while it runs');
    assert.ok((await h.store.getSweep('sw')) !== null);
    await within(1000, 'cancel', sweeps.cancel('sw'));
    await settle();
    const { trials } = await h.store.listTrials('sw');
    const deleted = await within(1000, 'delete', sweeps.delete('sw', removeCheckpoints));
    assert.deepEqual(deleted, {
      sweepId: 'sw',
      trials: trials.length,
      checkpoints: 2 * trials.length,
      freedBytes: 1000,
    });
    assert.deepEqual(removed, [trials.map((t) => t.id)]);
    assert.equal(await h.store.getSweep('sw'), null);
    assert.equal((await h.store.listTrials(null)).total, 0);
    await assert.rejects(sweeps.delete('sw', removeCheckpoints), /no sweep with id sw/);
    assert.deepEqual(h.stopped(a), [h.assigned(a)[0]]);
  });

  it('pauses (queued trials leave the queue, a held one is parked) and resumes', async () => {
    const { h, sweeps } = await withSweep();
    const a = h.join('a');
    await settle();
    const first = h.assigned(a)[0];
    await within(1000, 'pause', sweeps.pause('sw'));
    assert.equal(await h.queue.depth(), 0);
    await h.manager.reports.ended(a.record, {
      trialId: first ?? '',
      rank: 0,
      outcome: 'TRIAL_OUTCOME_COMPLETED',
      error: '',
      resultJson: '{}',
    });
    a.beat({});
    await settle();
    assert.equal(h.assigned(a).length, 1, 'nothing starts while paused');
    await within(1000, 'resume', sweeps.resume('sw'));
    await settle();
    assert.equal(h.assigned(a).length, 2);
  });

  it('finishes the sweep when every config has ended, with the best config', async () => {
    const { h } = await withSweep();
    const a = h.join('a');
    for (let i = 0; i < 6; i++) {
      await settle();
      const id = h.assigned(a).at(-1) ?? '';
      await h.manager.reports.epoch(a.record, {
        trialId: id,
        rank: 0,
        epoch: 1,
        recordJson: h.epochJson(id.includes('-c1-') ? 0.5 : 0.9),
      });
      await h.manager.reports.ended(a.record, {
        trialId: id,
        rank: 0,
        outcome: 'TRIAL_OUTCOME_COMPLETED',
        error: '',
        resultJson: '{}',
      });
      a.beat({});
    }
    await settle();
    const sweep = await h.store.getSweep('sw');
    assert.equal(sweep?.state, 'finished');
    assert.equal(sweep?.best?.value, 0.5);
    assert.equal(h.assigned(a).length, 6, 'three configs by two seeds, each run once');
  });

  it('cancels a restored sweep whose trials are larger than a lowered limit', async () => {
    const { h } = await withSweep(3, 2);
    const sweep = await h.store.getSweep('sw');
    assert.equal(sweep?.state, 'cancelled');
    const events = await h.store.sweepEvents('sw');
    assert.match(events[0]?.message ?? '', /refused: workers_per_trial 3 exceeds .* maximum of 2/);
  });
});
