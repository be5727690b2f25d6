/**
 * The sweep controller's other paths on a live local cluster (real processes):
 * - a trial that fails on every attempt ends in the dead-letter state with its error kept,
 *   after exactly `max_failures` attempts, and the worker stays alive for the next trial;
 * - pause holds queued trials (nothing new starts), resume lets them run, cancel ends every
 *   unfinished trial (the running one is stopped on its worker) and the sweep.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LocalCluster } from '@mmim/cli';
import { startCluster, TERMINAL, until } from './helpers.js';

describe('sweep control on a live cluster', { timeout: 600_000 }, () => {
  let cluster: LocalCluster;
  before(async () => {
    cluster = await startCluster(1);
  });
  after(async () => {
    await cluster?.stop();
  });

  it('dead-letters a trial after max_failures attempts and keeps its error', async () => {
    const { sweep } = await cluster.api.createSweep(`
name: dead-letter
data: /nonexistent/mosi/unaligned_50.pkl
method: grid
metric: {name: valid.mae, goal: minimize}
parameters:
  alpha: {values: [0.1]}
seeds: [1]
max_failures: 2
trainer: {num_epochs: 1}
`);
    const done = await until('the sweep to finish', 300_000, async () => {
      const r = await cluster.api.sweep(sweep.id);
      return r.sweep.state === 'finished' ? r : null;
    });
    assert.equal(done.counts.failed, 1);
    assert.equal(done.sweep.best, null);
    const { trials } = await cluster.api.trialsOf(sweep.id);
    const t = trials[0];
    assert.ok(t);
    assert.equal(t.state, 'failed');
    assert.equal(t.attempts, 2, 'exactly max_failures attempts');
    assert.match(t.error ?? '', /\/nonexistent\/mosi/);
    const { events } = await cluster.api.trial(t.id);
    assert.equal(events.filter((e) => e.type === 'requeued').length, 1);
    assert.equal(events.filter((e) => e.type === 'failed').length, 1);
  });

  it('pauses, resumes and cancels a sweep', async () => {
    const { sweep } = await cluster.api.createSweep(`
name: control
data: {synthetic: mosi, train: 32, valid: 16, test: 16}
method: grid
metric: {name: valid.mae, goal: minimize}
parameters:
  alpha: {values: [0.1, 0.2, 0.3]}
seeds: [1]
run_cap: 3
trainer: {num_epochs: 2, batch_size: 16}
`);
    // One worker: the first trial runs, the rest wait in the queue.
    await until('a running trial', 300_000, async () => {
      const { counts } = await cluster.api.sweep(sweep.id);
      return counts.running === 1;
    });
    const paused = await cluster.api.action(sweep.id, 'pause');
    assert.equal(paused.sweep.state, 'paused');
    await until('the running trial to end', 300_000, async () => {
      const { counts } = await cluster.api.sweep(sweep.id);
      return counts.running === 0 && counts.completed >= 1;
    });
    await new Promise((r) => setTimeout(r, 3000));
    const held = await cluster.api.sweep(sweep.id);
    assert.equal(held.counts.running, 0, 'nothing starts while paused');
    assert.ok(held.counts.queued >= 1);

    assert.equal((await cluster.api.action(sweep.id, 'resume')).sweep.state, 'running');
    await until('a trial running again', 300_000, async () => {
      const { counts } = await cluster.api.sweep(sweep.id);
      return counts.running === 1;
    });
    const cancelled = await cluster.api.action(sweep.id, 'cancel');
    assert.equal(cancelled.sweep.state, 'cancelled');
    const { trials } = await cluster.api.trialsOf(sweep.id);
    assert.ok(
      trials.every((t) => TERMINAL.includes(t.state)),
      JSON.stringify(trials.map((t) => t.state)),
    );
    assert.ok(trials.some((t) => t.state === 'cancelled'));
    // The stopped worker is idle again and takes no trial of the cancelled sweep.
    await until('the worker idle', 60_000, async () => {
      const { workers } = await cluster.api.workers();
      return workers.some((w) => w.state === 'idle');
    });
    await assert.rejects(cluster.api.action(sweep.id, 'resume'), /409/);
  });
});
