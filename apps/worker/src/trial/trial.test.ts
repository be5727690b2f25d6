/**
 * Trials on real worker processes: a test WorkerRegistry server (the real coordinator has its
 * own tests) assigns tiny synthetic trials to `apps/worker/src/main.ts` children sharing a real
 * redis-server. Checked: K = 2 ranks end with the parameters of a K = 1 run (checkpoints read
 * back from Redis), epoch reports, TrialEnded from every rank, heartbeats at the lease rhythm
 * while training, Stop, a busy worker refusing a second trial, a bad spec, and a worker killed
 * mid-trial whose replacement resumes from the epoch checkpoint and ends like an uninterrupted run.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckpointStore } from '@mmim/experiments';
import { startRedisServer, type RedisServerHandle } from '@mmim/param-server/testing';
import { type AssignTrial } from '@mmim/protocol';
import { parseSafetensors } from '@mmim/runtime';
import type { TrialSpecInput } from '@mmim/trainer';
import type { Redis } from 'ioredis';
import { FakeCoordinator } from './testing/fake-coordinator.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../main.ts');
const TOKEN = 'trial-test-token';
const LEASE_MS = 1500;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-worker-trials-'));

/** A tiny MOSI-shaped synthetic trial: 4 global batches of 8 rows, both stages, dropout on. */
function spec(trialId: string, attempt = 1, over: Partial<TrialSpecInput> = {}): string {
  const s: TrialSpecInput = {
    trialId,
    attempt,
    seed: 11,
    data: { kind: 'synthetic', dataset: 'mosi', train: 32, valid: 8, test: 8 },
    bert: { hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32 },
    trainer: {
      preset: 'mosi',
      batch_size: 8,
      num_epochs: 2,
      d_prjh: 16,
      d_vh: 8,
      d_ah: 8,
      d_vout: 8,
      d_aout: 8,
    },
    ...over,
  };
  return JSON.stringify(s);
}

interface WorkerChild {
  name: string;
  proc: ChildProcess;
  stderr: string[];
  exited: Promise<void>;
}

let redis: RedisServerHandle;
let client: Redis;
let store: CheckpointStore;
let coordinator: FakeCoordinator;
const children: WorkerChild[] = [];

function startWorkerProcess(name: string): WorkerChild {
  const proc = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      MAIN,
      '--coordinator',
      coordinator.address,
      '--name',
      name,
      '--redis',
      `redis://127.0.0.1:${redis.port}`,
      '--run-dir',
      path.join(tmp, name),
      '--backend',
      'wasm',
    ],
    {
      env: { ...process.env, MMIM_JOIN_TOKEN: TOKEN, MMIM_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const child: WorkerChild = {
    name,
    proc,
    stderr: [],
    exited: new Promise((resolve) => proc.once('exit', () => resolve())),
  };
  proc.stderr?.on('data', (d: Buffer) => child.stderr.push(d.toString()));
  children.push(child);
  return child;
}

async function joined(name: string): Promise<void> {
  await coordinator.waitFor(
    () => (coordinator.byName(name)?.heartbeats.length ?? 0) > 0 || undefined,
    60_000,
    `worker ${name} to join`,
  );
}

function assign(name: string, a: AssignTrial): void {
  coordinator.assign(name, a);
}

// Generous: the machine these run on is shared and often loaded far beyond its two cores.
function ended(trialId: string, rank: number, timeoutMs = 180_000) {
  return coordinator.waitFor(
    () => coordinator.ended(trialId, rank),
    timeoutMs,
    `TrialEnded of ${trialId} rank ${rank}`,
  );
}

/** The model weights of a trial's stored 'last' checkpoint (optimiser moments left out). */
async function storedWeights(trialId: string): Promise<Map<string, Float32Array>> {
  const c = await store.get(trialId, 'last');
  assert.ok(c !== null, `no checkpoint of ${trialId} in Redis`);
  const f = parseSafetensors(new Uint8Array(c.data), `checkpoint of ${trialId}`);
  const out = new Map<string, Float32Array>();
  for (const [name, t] of f.tensors)
    if (!name.startsWith('optimizer.')) out.set(name, Float32Array.from(t.data as Float32Array));
  return out;
}

function relativeDifferences(a: Map<string, Float32Array>, b: Map<string, Float32Array>): string[] {
  const problems: string[] = [];
  assert.equal(a.size, b.size, 'parameter counts differ');
  for (const [name, x] of a) {
    // A zero true gradient: Adam moves it on float noise in any implementation (sharded.test.ts).
    if (name.endsWith('attention.self.key.bias')) continue;
    const y = b.get(name) ?? new Float32Array(0);
    let num = 0;
    let den = 0;
    x.forEach((v, i) => {
      num += (v - (y[i] ?? Number.NaN)) ** 2;
      den += v * v;
    });
    const rel = Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-12);
    if (!(rel <= 1e-5)) problems.push(`${name}: ${rel.toExponential(2)}`);
  }
  return problems;
}

describe('trials on worker processes', () => {
  before(async () => {
    redis = await startRedisServer();
    client = redis.client();
    store = new CheckpointStore(client);
    coordinator = new FakeCoordinator(TOKEN, LEASE_MS);
    await coordinator.start();
    startWorkerProcess('a');
    startWorkerProcess('b');
    await Promise.all([joined('a'), joined('b')]);
  });

  after(async () => {
    for (const c of children) c.proc.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    await coordinator.close();
    client.disconnect();
    await redis.stop();
    // MMIM_TEST_LOGS=1 prints the workers' logs (to diagnose a failure).
    if (process.env.MMIM_TEST_LOGS === '1')
      for (const c of children) process.stderr.write(`--- worker ${c.name}\n${c.stderr.join('')}`);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('K = 2 workers train a trial to the parameters of one worker, reporting as they go', async () => {
    const started = Date.now();
    assign('a', { trialId: 'dp', rank: 0, worldSize: 2, configJson: spec('dp') });
    assign('b', { trialId: 'dp', rank: 1, worldSize: 2, configJson: spec('dp') });
    const [e0, e1] = await Promise.all([ended('dp', 0), ended('dp', 1)]);
    const dump = (): string => children.map((c) => c.stderr.join('')).join('\n');
    assert.equal(e0.outcome, 'TRIAL_OUTCOME_COMPLETED', `${e0.error}\n${dump()}`);
    assert.equal(e1.outcome, 'TRIAL_OUTCOME_COMPLETED', e1.error);
    const result = JSON.parse(e0.resultJson) as { epochs: number };
    assert.equal(result.epochs, 2);
    assert.equal(e1.resultJson, '', 'only rank 0 sends the result');
    // Epoch reports: rank 0 only, one per epoch.
    const reports = coordinator.epochReports.filter((r) => r.report.trialId === 'dp');
    assert.deepEqual(
      reports.map((r) => [r.report.rank, r.report.epoch]),
      [
        [0, 1],
        [0, 2],
      ],
    );
    const record = JSON.parse(reports[0]?.report.recordJson ?? '{}') as {
      valid?: { mae?: number };
    };
    assert.ok(Number.isFinite(record.valid?.mae), 'the record carries the valid metrics');
    // Heartbeats kept their rhythm while the threads trained.
    for (const name of ['a', 'b']) {
      const beats = (coordinator.byName(name)?.heartbeats ?? []).filter((h) => h.at >= started);
      const training = beats.filter((h) => h.beat.state === 'WORKER_STATE_TRAINING');
      assert.ok(
        training.some((h) => Number(h.beat.step) > 0),
        `${name} reported its steps`,
      );
      let gap = 0;
      for (let i = 1; i < beats.length; i++)
        gap = Math.max(gap, (beats[i]?.at ?? 0) - (beats[i - 1]?.at ?? 0));
      assert.ok(gap < LEASE_MS, `${name}: a ${gap} ms gap between heartbeats`);
    }
    // Curve points from rank 0.
    const points = coordinator.points.filter((p) => p.trialId === 'dp');
    const names = new Set(points.map((p) => p.name));
    for (const n of ['train/loss', 'train/nce', 'lr/main', 'ps/bytes', 'ps/seconds'])
      assert.ok(names.has(n), `no ${n} points`);
    assert.ok(points.every((p) => p.rank === 0));
    // The checkpoint is in Redis with the last epoch.
    assert.equal((await store.info('dp', 'last'))?.epoch, 2);
  });

  it('a single rank ends with the same parameters; a bad data path fails without killing the worker', async () => {
    assign('a', { trialId: 'ref', rank: 0, worldSize: 1, configJson: spec('ref') });
    const missing = path.join(tmp, 'no-such-dataset.pkl');
    assign('b', {
      trialId: 'bad',
      rank: 0,
      worldSize: 1,
      configJson: spec('bad', 1, { data: { kind: 'file', path: missing } }),
    });
    const bad = await ended('bad', 0);
    assert.equal(bad.outcome, 'TRIAL_OUTCOME_FAILED');
    assert.match(bad.error, new RegExp(missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    const ref = await ended('ref', 0);
    assert.equal(ref.outcome, 'TRIAL_OUTCOME_COMPLETED', ref.error);
    assert.deepEqual(
      relativeDifferences(await storedWeights('ref'), await storedWeights('dp')),
      [],
    );
    // b is alive and idle again.
    const since = Date.now();
    await coordinator.waitFor(
      () =>
        coordinator
          .byName('b')
          ?.heartbeats.some((h) => h.at > since && h.beat.state === 'WORKER_STATE_IDLE') ||
        undefined,
      5000,
      'an IDLE heartbeat from b',
    );
  });

  it('stops a running trial on request and refuses a second trial while busy', async () => {
    const long = spec('long', 1, {
      trainer: { preset: 'mosi', batch_size: 8, num_epochs: 50, d_prjh: 16 },
    });
    assign('b', { trialId: 'long', rank: 0, worldSize: 1, configJson: long });
    await coordinator.waitFor(
      () =>
        coordinator
          .byName('b')
          ?.heartbeats.some((h) => h.beat.trialId === 'long' && Number(h.beat.step) > 0) ||
        undefined,
      180_000,
      'b training trial long',
    );
    assign('b', { trialId: 'other', rank: 0, worldSize: 1, configJson: spec('other') });
    const busy = await ended('other', 0, 5000);
    assert.equal(busy.outcome, 'TRIAL_OUTCOME_FAILED');
    assert.match(busy.error, /worker busy with trial long/);
    coordinator.send('b', { stop: { trialId: 'long', reason: 'test' } });
    const stopped = await ended('long', 0, 5000);
    assert.equal(stopped.outcome, 'TRIAL_OUTCOME_STOPPED');
    const since = Date.now();
    await coordinator.waitFor(
      () =>
        coordinator
          .byName('b')
          ?.heartbeats.some((h) => h.at > since && h.beat.state === 'WORKER_STATE_IDLE') ||
        undefined,
      5000,
      'an IDLE heartbeat from b after the stop',
    );
  });

  it('a worker killed mid-trial is replaced; the next attempt resumes and ends like an uninterrupted run', async () => {
    assign('a', { trialId: 'resume', rank: 0, worldSize: 1, configJson: spec('resume') });
    // Kill as soon as epoch 1's checkpoint is in Redis: epoch 2 is under way.
    const deadline = Date.now() + 180_000;
    while ((await store.info('resume', 'last'))?.epoch !== 1) {
      assert.ok(Date.now() < deadline, 'no epoch-1 checkpoint of trial resume');
      await new Promise((r) => setTimeout(r, 20));
    }
    const a = children.find((c) => c.name === 'a');
    a?.proc.kill('SIGKILL');
    await a?.exited;
    assert.equal((await store.info('resume', 'last'))?.epoch, 1, 'killed during epoch 2');
    const reportsBefore = coordinator.epochReports.length;
    const c = startWorkerProcess('c');
    await joined('c');
    assign('c', { trialId: 'resume', rank: 0, worldSize: 1, configJson: spec('resume', 2) });
    const e = await ended('resume', 0);
    assert.equal(e.outcome, 'TRIAL_OUTCOME_COMPLETED', `${e.error}\n${c.stderr.join('')}`);
    // The new attempt re-sends epoch 1 from the checkpoint (whoever trained it may have been
    // cut off before reporting it), then trains only epoch 2.
    const again = coordinator.epochReports.slice(reportsBefore);
    assert.deepEqual(
      again.map((r) => r.report.epoch),
      [1, 2],
      'epoch 1 re-sent from the checkpoint, epoch 2 trained',
    );
    const first = coordinator.epochReports
      .slice(0, reportsBefore)
      .find((r) => r.report.trialId === 'resume' && r.report.epoch === 1);
    assert.equal(again[0]?.report.recordJson, first?.report.recordJson, 'the same epoch-1 record');
    // One rank: no live state (that is the data-parallel path's); the epoch-1 checkpoint.
    const resumed = c.stderr
      .join('')
      .split('\n')
      .filter((l) => l.includes('"msg":"trial resumed"'))
      .map((l) => JSON.parse(l) as { epoch: number; source: string });
    assert.deepEqual(
      resumed.map((r) => [r.epoch, r.source]),
      [[1, 'checkpoint']],
      'resumed after epoch 1, from its checkpoint',
    );
    assert.deepEqual(
      relativeDifferences(await storedWeights('resume'), await storedWeights('ref')),
      [],
    );
  });
});
