/**
 * Hosts, not just processes (issue 14 item 4): Redis, the coordinator and three workers each in
 * its own network namespace, talking over veth links through a bridge (netns-lab.ts). A 2-rank
 * trial runs; rank 0's host (the checkpoint writer) is partitioned (its link down) after epoch 1:
 * it is declared lost
 * within the lease, the group re-forms on the spare host and resumes from the checkpoint, and
 * when the link comes back the cut-off worker writes nothing into the new group's state (its
 * checkpoint writes are fenced by attempt, its collectives are the old attempt's) and is told to
 * stop. The trial ends with the parameters of the same trial trained on one worker.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { TrialEvent, TrialRecord, WorkerSnapshot } from '@mmim/experiments';
import { COORDINATOR_MAIN, WORKER_MAIN } from '@mmim/cli';
import { checkpointWeights, maxRelativeDiff, until } from './helpers.js';
import { NetnsLab } from './netns-lab.js';

const CLIENT = fileURLToPath(new URL('./fixtures/netns-client.ts', import.meta.url));
const DATA = { kind: 'synthetic', dataset: 'mosi', train: 32, valid: 16, test: 16, seed: 3 };
const TRAINER = { num_epochs: 3, batch_size: 16 };
const SEED = 4321;
const LEASE_MS = 2000;
const WORKERS = ['w0', 'w1', 'w2'];

describe('a partitioned host', { timeout: 900_000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-partition-'));
  const tokenFile = path.join(dir, 'join-token');
  const adminFile = path.join(dir, 'admin-token');
  let lab: NetnsLab;
  let redisUrl = '';
  let api = '';
  // Redis refuses clients of other hosts without a password (protected mode), as it should.
  const redisPassword = randomBytes(16).toString('hex');
  const redisCli = (...args: string[]): string =>
    lab.run('redis', [
      ...['redis-cli', '-h', lab.address('redis'), '-a', redisPassword, '--no-auth-warning'],
      ...args,
    ]);

  /** The coordinator's API, called from inside its namespace (where it listens). */
  const call = <T>(method: string, route: string, body?: unknown): T =>
    JSON.parse(
      lab.run('coord', [
        process.execPath,
        '--import',
        'tsx',
        CLIENT,
        'api',
        method,
        `${api}${route}`,
        adminFile,
        ...(body === undefined ? [] : [JSON.stringify(body)]),
      ]),
    ) as T;
  const trial = (id: string) =>
    call<{ trial: TrialRecord; events: TrialEvent[] }>('GET', `/api/trials/${id}`);
  const weights = (id: string): Map<string, Float32Array> => {
    const out = path.join(dir, `${id}.safetensors`);
    lab.run('redis', [
      process.execPath,
      '--import',
      'tsx',
      CLIENT,
      'checkpoint',
      redisUrl,
      id,
      out,
    ]);
    return checkpointWeights(fs.readFileSync(out), `checkpoint of ${id}`);
  };
  const finished = (id: string) =>
    until(`trial ${id} to end`, 400_000, async () => {
      const t = trial(id).trial;
      return ['completed', 'failed', 'cancelled'].includes(t.state) ? t : null;
    });

  before(async () => {
    fs.writeFileSync(tokenFile, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
    fs.writeFileSync(adminFile, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
    lab = NetnsLab.create(['redis', 'coord', ...WORKERS]);
    const log = (name: string): string => path.join(dir, `${name}.log`);
    const redisIp = lab.address('redis');
    redisUrl = `redis://:${redisPassword}@${redisIp}:6379`;
    fs.mkdirSync(path.join(dir, 'redis'));
    const redis = lab.start(
      'redis',
      [
        ...['redis-server', '--bind', redisIp, '--port', '6379', '--requirepass', redisPassword],
        ...['--dir', path.join(dir, 'redis'), '--appendonly', 'yes', '--save', ''],
        ...['--logfile', log('redis')],
      ],
      log('redis'),
    );
    redis.proc.stdout?.resume();
    await until('redis-server', 20_000, async () => {
      try {
        return redisCli('ping').trim() === 'PONG';
      } catch {
        return false;
      }
    });
    const env = { MMIM_LOG_LEVEL: 'info' };
    const coordinator = lab.start(
      'coord',
      [
        ...[process.execPath, '--import', 'tsx', COORDINATOR_MAIN],
        ...['--host', lab.address('coord'), '--port', '50051'],
        ...['--http-host', '127.0.0.1', '--http-port', '8080'],
        ...['--token-file', tokenFile, '--admin-token-file', adminFile],
        ...['--redis', redisUrl, '--lease-ms', String(LEASE_MS)],
      ],
      log('coordinator'),
      env,
    );
    await new Promise<void>((resolve, reject) => {
      const rl = readline.createInterface({ input: coordinator.proc.stdout! });
      rl.on('line', (line) => {
        if (line.includes('"event":"listening"')) resolve();
      });
      void coordinator.exited.then(() => reject(new Error('the coordinator exited; see its log')));
    });
    coordinator.proc.stdout?.resume();
    api = 'http://127.0.0.1:8080';
    for (const name of WORKERS) {
      const w = lab.start(
        name,
        [
          ...[process.execPath, '--import', 'tsx', WORKER_MAIN],
          ...['--coordinator', `${lab.address('coord')}:50051`, '--token-file', tokenFile],
          ...['--redis', redisUrl, '--name', name, '--backend', 'wasm'],
          ...['--run-dir', path.join(dir, 'workers', name)],
        ],
        log(name),
        env,
      );
      w.proc.stdout?.resume();
    }
    await until('three workers', 180_000, async () => {
      const { workers } = call<{ workers: WorkerSnapshot[] }>('GET', '/api/workers');
      return workers.filter((w) => w.state === 'idle').length === 3;
    });
  });
  after(() => {
    lab?.destroy();
    if (process.env.KEEP_LAB === undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loses the cut-off rank within the lease, re-forms, and ends with the uninterrupted parameters', async () => {
    // The reference: the same trial, uninterrupted, on one worker.
    const ref = call<{ trial: TrialRecord }>('POST', '/api/trials', {
      data: DATA,
      trainer: TRAINER,
      seed: SEED,
      workers: 1,
      name: 'reference',
    }).trial;
    assert.equal((await finished(ref.id)).state, 'completed');
    const reference = weights(ref.id);

    const { trial: t } = call<{ trial: TrialRecord }>('POST', '/api/trials', {
      data: DATA,
      trainer: TRAINER,
      seed: SEED,
      workers: 2,
      name: 'partitioned',
    });
    const running = await until('epoch 1', 300_000, async () => {
      const r = trial(t.id).trial;
      return r.epochs >= 1 && r.placement.length === 2 ? r : null;
    });
    // Rank 0: the rank that writes the trial's checkpoints.
    const victim = running.placement.find((p) => p.rank === 0)?.workerName ?? '';
    assert.ok(WORKERS.includes(victim), `rank 0 is on ${victim}`);

    lab.partition(victim);
    const cutAt = Date.now();
    await until('the loss to be recorded', 60_000, async () =>
      trial(t.id).events.some((e) => e.type === 'worker-lost') ? true : null,
    );
    const noticedMs = Date.now() - cutAt;
    // Within the lease, plus one probe's latency (each probe is a process in a namespace).
    assert.ok(noticedMs <= LEASE_MS + 5000, `the loss was noticed after ${noticedMs} ms`);

    // The re-formed group is training (or done) before the link comes back.
    const reformed = await until('the group to re-form', 120_000, async () => {
      const r = trial(t.id);
      const again = r.events.some((e) => e.type === 'resumed') || r.trial.state === 'completed';
      return again ? r.trial : null;
    });
    assert.ok(
      !reformed.placement.some((p) => p.workerName === victim) || reformed.state === 'completed',
    );
    lab.heal(victim);

    const done = await finished(t.id);
    assert.equal(done.state, 'completed', done.error ?? '');
    const d = maxRelativeDiff(weights(t.id), reference);
    assert.ok(d.count > 10, 'compared the parameters');
    assert.ok(d.worst < 1e-5, `max relative difference ${d.worst} at ${d.name}`);

    // Back on the network, the cut-off worker rejoins and runs nothing it was not given.
    const back = await until(`${victim} back and idle`, 120_000, async () => {
      const { workers } = call<{ workers: WorkerSnapshot[] }>('GET', '/api/workers');
      const w = workers.find((x) => x.name === victim && x.state !== 'lost');
      return w !== undefined && w.state === 'idle' && w.trialId === null ? w : null;
    });
    assert.equal(back.trialId, null);
    // And the trial's newest attempt owns its checkpoints (the stale one's writes are fenced).
    const fence = redisCli('GET', `mmim:{trial:${t.id}}:ckpt:fence`).trim();
    assert.ok(Number(fence) >= 2, `the fence is at attempt ${fence}`);
    // So does its live state: the fence stands at the new attempt (a stale head commit is
    // refused), and the finished trial left nothing else of it behind, the stale rank's
    // attempt-1 chunks included.
    const liveFence = redisCli('GET', `mmim:{trial:${t.id}}:live:fence`).trim();
    assert.ok(Number(liveFence) >= 2, `the live fence is at attempt ${liveFence}`);
    const left = redisCli('--scan', '--pattern', `mmim:{trial:${t.id}}:live:*`)
      .split('\n')
      .map((k) => k.trim())
      .filter((k) => k !== '');
    assert.deepEqual(left, [`mmim:{trial:${t.id}}:live:fence`]);
  });
});
