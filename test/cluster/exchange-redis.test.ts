/**
 * The per-step exchange on its own Redis (issue 14 item 3): with `exchangeRedis: 'auto'` the
 * local cluster starts a second redis-server without persistence; a 2-rank trial's collectives
 * run there (BLPOP, RPUSH, the parts with PEXPIRE) and never on the durable Redis, whose AOF keeps only what
 * must survive (the trial's checkpoints, the experiment record); the trial ends with the
 * parameters of the same trial on one shared Redis. And when the exchange Redis (no
 * persistence) dies mid-trial, the live state goes with it: the supervised cluster restarts it,
 * the group re-forms and resumes from the epoch checkpoint on the durable Redis, and the trial
 * still ends with the uninterrupted parameters. Real processes throughout.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { LocalCluster } from '@mmim/cli';
import { finalWeights, maxRelativeDiff, trialWhen, TERMINAL } from './helpers.js';

const clusters: LocalCluster[] = [];

/** The workers' 'trial resumed' log records of a trial. */
function resumedLines(cluster: LocalCluster, trialId: string): { source: string; step: number }[] {
  const out: { source: string; step: number }[] = [];
  for (const w of cluster.workers) {
    if (!fs.existsSync(w.log)) continue;
    for (const line of fs.readFileSync(w.log, 'utf8').split('\n')) {
      if (!line.includes('"msg":"trial resumed"')) continue;
      const rec = JSON.parse(line) as { trialId: string; source: string; step: number };
      if (rec.trialId === trialId) out.push(rec);
    }
  }
  return out;
}

async function trainOnce(exchangeRedis: 'auto' | undefined): Promise<{
  cluster: LocalCluster;
  trialId: string;
}> {
  const cluster = await LocalCluster.start({
    workers: 2,
    runDir: fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-exchange-')),
    httpPort: 0,
    backend: 'wasm',
    env: { MMIM_LOG_LEVEL: 'info' },
    ...(exchangeRedis === undefined ? {} : { exchangeRedis }),
  });
  clusters.push(cluster);
  const { trial } = await cluster.api.createTrial({
    data: { kind: 'synthetic', dataset: 'mosi', train: 32, valid: 16, test: 16 },
    trainer: { num_epochs: 1, batch_size: 16 },
    seed: 1111,
    workers: 2,
    name: 'exchange',
  });
  const done = await trialWhen(cluster.api, trial.id, 'the trial to end', 300_000, (t) =>
    TERMINAL.includes(t.state),
  );
  assert.equal(done.state, 'completed', done.error ?? '');
  return { cluster, trialId: trial.id };
}

/** Calls of each command a Redis has served (INFO commandstats). */
async function commandCounts(url: string): Promise<Map<string, number>> {
  const redis = new Redis(url);
  try {
    const info = await redis.info('commandstats');
    const out = new Map<string, number>();
    for (const m of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm))
      out.set(m[1] ?? '', Number(m[2]));
    return out;
  } finally {
    redis.disconnect();
  }
}

async function configGet(url: string, key: string): Promise<string> {
  const redis = new Redis(url);
  try {
    const [, value] = (await redis.config('GET', key)) as [string, string];
    return value;
  } finally {
    redis.disconnect();
  }
}

describe('the exchange on its own Redis', { timeout: 900_000 }, () => {
  after(async () => {
    await Promise.all(clusters.map((c) => c.stop()));
  });

  it('carries every collective; the durable Redis keeps the checkpoints; results unchanged', async () => {
    const split = await trainOnce('auto');
    const { cluster } = split;
    // Password-protected like the durable one (the run dir's redis-password).
    assert.match(cluster.exchangeRedisUrl, /^redis:\/\/:[0-9a-f]{48}@127\.0\.0\.1:\d+$/);
    assert.notEqual(cluster.exchangeRedisUrl, cluster.redisUrl);
    assert.equal(await configGet(cluster.exchangeRedisUrl, 'appendonly'), 'no');
    assert.equal(await configGet(cluster.redisUrl, 'appendonly'), 'yes');
    const exchange = await commandCounts(cluster.exchangeRedisUrl);
    const durable = await commandCounts(cluster.redisUrl);
    assert.ok((exchange.get('blpop') ?? 0) > 0, 'the ranks waited on the exchange Redis');
    assert.ok((exchange.get('rpush') ?? 0) > 0, 'the ranks signalled on the exchange Redis');
    // The collectives' own commands (the record keeps event lists with RPUSH of its own).
    assert.equal(durable.get('blpop') ?? 0, 0, 'no collective waited on the durable Redis');
    assert.equal(durable.get('pexpire') ?? 0, 0, 'no collective part on the durable Redis');
    // The checkpoint is on the durable Redis.
    const weights = await finalWeights(cluster.redisUrl, split.trialId);
    assert.ok(weights.size > 50);
    // And the trial ends as the same trial on one shared Redis does.
    const shared = await trainOnce(undefined);
    assert.equal(shared.cluster.exchangeRedisUrl, '');
    const diff = maxRelativeDiff(
      weights,
      await finalWeights(shared.cluster.redisUrl, shared.trialId),
    );
    assert.ok(diff.worst <= 1e-5, `${diff.name}: ${diff.worst}`);
  });

  it('loses the live state with the exchange Redis, resumes from the epoch checkpoint, same parameters', async () => {
    const cluster = await LocalCluster.start({
      workers: 2,
      runDir: fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-exchange-loss-')),
      httpPort: 0,
      backend: 'wasm',
      env: { MMIM_LOG_LEVEL: 'info' },
      exchangeRedis: 'auto',
      supervise: true,
    });
    clusters.push(cluster);
    const spec = {
      data: { kind: 'synthetic', dataset: 'mosi', train: 32, valid: 16, test: 16 },
      trainer: { num_epochs: 3, batch_size: 16 },
      seed: 1111,
    } as const;
    const run = async (workers: number, name: string) => {
      const { trial } = await cluster.api.createTrial({ ...spec, workers, name });
      return trial.id;
    };
    const reference = await run(1, 'reference');
    const refDone = await trialWhen(cluster.api, reference, 'the reference', 300_000, (t) =>
      TERMINAL.includes(t.state),
    );
    assert.equal(refDone.state, 'completed', refDone.error ?? '');
    const id = await run(2, 'exchange-loss');
    await trialWhen(cluster.api, id, 'epoch 1', 300_000, (t) => t.epochs >= 1);
    const victim = cluster.exchangeRedis;
    assert.ok(victim, 'an exchange Redis runs');
    victim.proc.kill('SIGKILL');
    const done = await trialWhen(cluster.api, id, 'the trial to end', 400_000, (t) =>
      TERMINAL.includes(t.state),
    );
    assert.equal(done.state, 'completed', done.error ?? '');
    assert.notEqual(cluster.exchangeRedis?.pid, victim.pid, 'the exchange Redis was restarted');
    // Its live head went with it: the new group took the epoch checkpoint.
    const resumes = resumedLines(cluster, id);
    assert.ok(resumes.length >= 2, JSON.stringify(resumes));
    assert.ok(
      resumes.every((r) => r.source === 'checkpoint'),
      JSON.stringify(resumes),
    );
    const diff = maxRelativeDiff(
      await finalWeights(cluster.redisUrl, id),
      await finalWeights(cluster.redisUrl, reference),
    );
    assert.ok(diff.worst < 1e-5, `${diff.name}: ${diff.worst}`);
  });
});
