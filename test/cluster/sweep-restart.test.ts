/**
 * Issue 6's acceptance run: a 12-trial sweep (4 grid configs x 3 seeds) on a local cluster of
 * 3 worker processes; the coordinator is SIGKILLed in the middle and started again. Every trial
 * ends exactly once, no epoch is recorded twice, and `best` is the config with the best mean
 * over its seeds, recomputed here from the trial records.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { LocalCluster } from '@mmim/cli';
import type { TrialRecord } from '@mmim/experiments';
import { startCluster, TERMINAL, until } from './helpers.js';

const SWEEP = `
name: restart-acceptance
data: {synthetic: mosi, train: 32, valid: 16, test: 16, seed: 7}
method: grid
metric: {name: valid.mae, goal: minimize}
parameters:
  alpha: {values: [0.1, 0.3]}
  lr_main: {values: [0.001, 0.003]}
seeds: [1111, 1112, 1113]
workers_per_trial: 1
run_cap: 4
trainer: {num_epochs: 2, batch_size: 16}
`;

describe('a sweep survives a coordinator SIGKILL', { timeout: 600_000 }, () => {
  let cluster: LocalCluster;
  before(async () => {
    cluster = await startCluster(3);
  });
  after(async () => {
    await cluster?.stop();
  });

  it('ends every trial exactly once and reports the right best config', async () => {
    const api = cluster.api;
    const { sweep } = await api.createSweep(SWEEP);
    // Kill the coordinator once some trials have ended and others are running.
    await until('a finished trial and a running one', 300_000, async () => {
      const { counts } = await api.sweep(sweep.id);
      return counts.completed >= 1 && counts.running >= 1;
    });
    cluster.coordinator?.proc.kill('SIGKILL');
    await cluster.coordinator?.exited;
    await cluster.startCoordinator();
    const ended = await until(
      'the sweep to finish',
      480_000,
      async () => {
        const r = await cluster.api.sweep(sweep.id);
        return r.sweep.state === 'finished' ? r : null;
      },
      1000,
    );
    const { trials } = await cluster.api.trialsOf(sweep.id);
    assert.equal(trials.length, 12, 'four configs x three seeds');
    assert.equal(ended.counts.completed, 12, JSON.stringify(ended.counts));

    for (const t of trials) {
      assert.ok(TERMINAL.includes(t.state), `${t.id} is ${t.state}`);
      const { events, epochs } = await cluster.api.trial(t.id);
      const finals = events.filter((e) => TERMINAL.includes(e.type));
      assert.equal(
        finals.length,
        1,
        `${t.id} ended ${finals.length} times: ${JSON.stringify(events)}`,
      );
      assert.deepEqual(
        epochs.map((e) => e.epoch),
        [1, 2],
        `${t.id}: each epoch recorded once`,
      );
    }

    // best = the config with the lowest mean over its three seeds of each run's best valid MAE.
    const byConfig = new Map<string, TrialRecord[]>();
    for (const t of trials) byConfig.set(t.configKey, [...(byConfig.get(t.configKey) ?? []), t]);
    let expected: { key: string; mean: number } | null = null;
    for (const [key, list] of byConfig) {
      assert.equal(list.length, 3);
      const mean = list.reduce((s, t) => s + (t.bestValue ?? Number.NaN), 0) / 3;
      if (expected === null || mean < expected.mean) expected = { key, mean };
    }
    assert.ok(expected && ended.sweep.best);
    assert.equal(ended.sweep.best.configKey, expected.key);
    assert.ok(Math.abs(ended.sweep.best.value - expected.mean) < 1e-9);

    // The CLI says the same.
    const r = spawnSync(
      process.execPath,
      ['apps/cli/bin/mmim.js', 'sweep', 'best', sweep.id, '--url', cluster.httpUrl, '--json'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const best = JSON.parse(r.stdout) as { mean: number; perSeed: unknown[]; params: object };
    assert.ok(Math.abs(best.mean - expected.mean) < 1e-9);
    assert.equal(best.perSeed.length, 3);
  });
});
