/**
 * Issue 5's faults, with real processes: one trial data-parallel on 2 of 3 workers.
 * - A rank's worker is SIGKILLed mid-trial: the coordinator notices within its lease, the group
 *   is re-formed (the spare worker takes the place) and training continues from the last
 *   checkpoint; the final parameters equal an uninterrupted single-worker run's.
 * - Redis is restarted mid-trial (AOF): the trial still finishes with the same parameters.
 * - The coordinator is SIGKILLed and restarted mid-trial: the workers reconnect and the trial
 *   finishes without being restarted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LocalCluster } from '@mmim/cli';
import { finalWeights, maxRelativeDiff, startCluster, trialWhen } from './helpers.js';

const DATA = { kind: 'synthetic', dataset: 'mosi', train: 32, valid: 16, test: 16, seed: 3 };
const TRAINER = { num_epochs: 3, batch_size: 16 };
const SEED = 1234;

describe('faults during a data-parallel trial', { timeout: 900_000 }, () => {
  let cluster: LocalCluster;
  let reference: Map<string, Float32Array>;

  before(async () => {
    cluster = await startCluster(3);
    // The uninterrupted reference: the same trial on one worker.
    const { trial } = await cluster.api.createTrial({
      data: DATA,
      trainer: TRAINER,
      seed: SEED,
      workers: 1,
      name: 'reference',
    });
    await trialWhen(cluster.api, trial.id, 'the reference run', 300_000, (t) =>
      ['completed', 'failed'].includes(t.state),
    );
    reference = await finalWeights(cluster.redisUrl, trial.id);
  });
  after(async () => {
    await cluster?.stop();
  });

  const run = async (name: string) =>
    (await cluster.api.createTrial({ data: DATA, trainer: TRAINER, seed: SEED, workers: 2, name }))
      .trial;

  const assertSameAsReference = async (trialId: string): Promise<void> => {
    const got = await finalWeights(cluster.redisUrl, trialId);
    const d = maxRelativeDiff(got, reference);
    assert.ok(d.count > 10, 'compared the parameters');
    assert.ok(d.worst < 1e-5, `max relative difference ${d.worst} at ${d.name}`);
  };

  it('re-forms the group after a worker is SIGKILLed and ends with the uninterrupted parameters', async () => {
    const trial = await run('worker-kill');
    const running = await trialWhen(
      cluster.api,
      trial.id,
      'epoch 1',
      300_000,
      (t) => t.epochs >= 1,
    );
    const victim = running.placement.find((p) => p.rank === 1);
    assert.ok(victim, 'rank 1 placed');
    const child = cluster.workers.find((w) => w.name === victim.workerName);
    assert.ok(child, `worker process ${victim.workerName}`);
    child.proc.kill('SIGKILL');
    await child.exited;
    const done = await trialWhen(cluster.api, trial.id, 'the trial to finish', 400_000, (t) =>
      ['completed', 'failed'].includes(t.state),
    );
    assert.equal(done.state, 'completed', done.error ?? '');
    const { events } = await cluster.api.trial(trial.id);
    assert.ok(
      events.some((e) => e.type === 'worker-lost'),
      'the loss was recorded',
    );
    assert.ok(
      events.some((e) => e.type === 'resumed'),
      'it resumed from a checkpoint',
    );
    assert.ok(!done.placement.some((p) => p.workerName === victim.workerName));
    await assertSameAsReference(trial.id);
    cluster.startWorker(victim.workerName); // back to three for the next tests
  });

  it('finishes with the same parameters when Redis restarts mid-trial (AOF)', async () => {
    const trial = await run('redis-restart');
    await trialWhen(cluster.api, trial.id, 'epoch 1', 300_000, (t) => t.epochs >= 1);
    await cluster.restartRedis(500);
    const done = await trialWhen(cluster.api, trial.id, 'the trial to finish', 400_000, (t) =>
      ['completed', 'failed'].includes(t.state),
    );
    assert.equal(done.state, 'completed', done.error ?? '');
    await assertSameAsReference(trial.id);
  });

  it('lets the running trial finish when the coordinator is SIGKILLed and restarted', async () => {
    const trial = await run('coordinator-restart');
    await trialWhen(cluster.api, trial.id, 'epoch 1', 300_000, (t) => t.epochs >= 1);
    cluster.coordinator?.proc.kill('SIGKILL');
    await cluster.coordinator?.exited;
    await cluster.startCoordinator();
    const done = await trialWhen(cluster.api, trial.id, 'the trial to finish', 400_000, (t) =>
      ['completed', 'failed'].includes(t.state),
    );
    assert.equal(done.state, 'completed', done.error ?? '');
    assert.equal(done.attempts, 1, 'adopted, not restarted');
    const { epochs } = await cluster.api.trial(trial.id);
    assert.deepEqual(
      epochs.map((e) => e.epoch),
      [1, 2, 3],
    );
    await assertSameAsReference(trial.id);
  });
});
