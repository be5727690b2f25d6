/**
 * Admission and fairness on a real coordinator (in-process ControlPlane, real redis-server, the
 * HTTP API over loopback, workers speaking real gRPC that train nothing and end trials on cue):
 *
 * - a trial or sweep larger than the cluster's workers-per-trial limit is refused with a 400
 *   naming the limit (it was accepted and queued: 201, and it wedged the queue);
 * - a head of the queue that waits for busy workers lets a smaller trial start on the idle ones
 *   (it blocked it forever), but only `maxJumps` times; then the head keeps the freed workers;
 * - a head larger than the registered workers (one was lost) blocks nobody;
 * - lone trials are cancelled by DELETE /api/trials/:id and `mmim trial cancel`, running ones on
 *   their workers too;
 * - a restart on the same Redis resumes a clean queue: cancelled trials stay ended, and queued
 *   trials or sweeps over a lowered limit are refused instead of waiting forever.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { TrialRecord } from '@mmim/experiments';
import { startRedisServer, type RedisServerHandle } from '@mmim/param-server/testing';
import { createLogger } from '@mmim/runtime';
import { ControlPlane, type ControlPlaneOptions } from '../control-plane.js';
import { scriptedWorker, type ScriptedWorker } from '../testing/grpc-worker.js';

process.env['MMIM_LOG_LEVEL'] ??= 'silent';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const JOIN = 'admission-join-token-0123456789';
const ADMIN = 'admission-admin-token-0123456789';
const SPEC = {
  data: { kind: 'synthetic', dataset: 'mosi', train: 12, valid: 4, test: 5 },
  trainer: { num_epochs: 1 },
  seed: 1,
};

function sweepYaml(name: string, workersPerTrial: number): string {
  return `
name: ${name}
data: {synthetic: mosi, train: 12, valid: 4, test: 5}
method: grid
metric: {name: valid.mae, goal: minimize}
parameters:
  alpha: {values: [0.1]}
seeds: [1]
workers_per_trial: ${workersPerTrial}
trainer: {num_epochs: 1}
`;
}

async function until<T>(what: string, probe: () => Promise<T | null | false> | T | null | false) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const v = await probe();
    if (v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('admission, backfill and cancel on a real coordinator', { timeout: 120_000 }, () => {
  let redis: RedisServerHandle;
  let plane: ControlPlane;
  let base: string;
  const workers: ScriptedWorker[] = [];

  const options = (over: Partial<ControlPlaneOptions> = {}): ControlPlaneOptions => ({
    host: '127.0.0.1',
    port: 0,
    joinToken: JOIN,
    // Long enough that a loaded machine stalling the test process loses no worker by accident.
    leaseMs: 3000,
    redisUrl: `redis://127.0.0.1:${redis.port}`,
    httpHost: '127.0.0.1',
    httpPort: 0,
    adminToken: ADMIN,
    readTokenRequired: false,
    queueLockMs: 30_000,
    dashboardDir: null,
    log: createLogger('coordinator'),
    maxWorkersPerTrial: 2,
    backfill: { maxJumps: 2, maxWaitMs: 60_000 },
    ...over,
  });

  async function call(
    method: string,
    route: string,
    body?: unknown,
    token: string | null = ADMIN,
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    const headers: Record<string, string> = {};
    if (token !== null) headers['authorization'] = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${base}${route}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  async function postTrial(name: string, n: number): Promise<string> {
    const r = await call('POST', '/api/trials', { ...SPEC, workers: n, name });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    return (r.json['trial'] as TrialRecord).id;
  }

  const trial = async (id: string): Promise<TrialRecord> => {
    const t = await plane.store.getTrial(id);
    assert.ok(t, `trial ${id} exists`);
    return t;
  };

  async function join(name: string): Promise<ScriptedWorker> {
    const w = await scriptedWorker(plane.coordinator.address, JOIN, name, 100);
    workers.push(w);
    await until(`${name} idle`, () =>
      plane.coordinator.pool.idleWorkers().some((x) => x.id === w.id),
    );
    return w;
  }

  async function ended(w: ScriptedWorker, id: string): Promise<void> {
    w.end();
    await until(`${id} completed`, async () => (await trial(id)).state === 'completed');
  }

  before(async () => {
    redis = await startRedisServer();
    plane = await ControlPlane.start(options());
    base = plane.httpUrl ?? '';
  });

  after(async () => {
    for (const w of workers) w.close();
    await plane?.close();
    await redis?.stop();
  });

  it('refuses a trial or a sweep larger than the cluster with a 400 naming the limit', async () => {
    const huge = await call('POST', '/api/trials', { ...SPEC, workers: 1_000_000 });
    assert.equal(huge.status, 400);
    assert.match(
      String(huge.json['error']),
      /workers 1000000 exceeds this cluster's maximum of 2 workers per trial .*--max-workers-per-trial 2/,
    );
    const sweep = await call('POST', '/api/sweeps', { yaml: sweepYaml('huge', 1_000_000) });
    assert.equal(sweep.status, 400);
    assert.match(String(sweep.json['error']), /workers_per_trial 1000000 exceeds .* maximum of 2/);
    // Nothing was recorded or queued.
    assert.equal((await plane.store.listTrials(null)).total, 0);
    assert.equal((await plane.store.listSweeps()).length, 0);
    assert.equal(await plane.queue.depth(), 0);
    // At the limit is fine (it waits for two workers); cancelled while it waits in the queue.
    const id = await postTrial('at-limit', 2);
    const del = await call('DELETE', `/api/trials/${id}`);
    assert.equal(del.status, 202);
    assert.equal((del.json['trial'] as TrialRecord).state, 'cancelled');
    assert.equal(await plane.queue.depth(), 0);
  });

  it('backfills idle workers past a waiting head, at most maxJumps times', async () => {
    const a = await join('a');
    const b = await join('b');
    const t1 = await postTrial('long', 1);
    assert.equal((await a.assigned()).trialId, t1);
    const head = await postTrial('head', 2);
    // The head waits for a; b is idle. A one-worker trial starts there (it waited forever).
    const s1 = await postTrial('small-1', 1);
    assert.equal((await b.assigned()).trialId, s1, 'first jump');
    assert.equal((await trial(head)).state, 'queued');
    await ended(b, s1);
    const s2 = await postTrial('small-2', 1);
    assert.equal((await b.assigned()).trialId, s2, 'second jump');
    await ended(b, s2);
    // Two jumps used up: the head is reserved, b stays free for it.
    const s3 = await postTrial('small-3', 1);
    await sleep(600);
    assert.equal(b.current(), null, 'no third jump');
    assert.equal((await trial(s3)).state, 'queued');
    assert.ok(plane.coordinator.scheduler.headReserved());
    // a frees up: the head gets both workers, then the small trial runs.
    await ended(a, t1);
    assert.equal((await a.assigned()).trialId, head);
    assert.equal((await b.assigned()).trialId, head);
    await until('head running', async () => (await trial(head)).state === 'running');
    b.end(); // rank 1 ends quietly; rank 0 speaks for the trial
    await ended(a, head);
    const w = await until(
      's3 placed',
      () => [a, b].find((x) => x.current()?.trialId === s3) ?? null,
    );
    await ended(w, s3);
  });

  it('lets a head larger than the registered workers (one was lost) block nobody', async () => {
    const [a, b] = workers as [ScriptedWorker, ScriptedWorker];
    a.vanish();
    await until('a lost', () => plane.coordinator.pool.size === 1);
    // The limit is still 2 (the flag): a two-worker trial is accepted and waits for a worker.
    const big = await postTrial('needs-two', 2);
    for (let i = 0; i < 4; i++) {
      const s = await postTrial(`after-loss-${i}`, 1);
      assert.equal((await b.assigned()).trialId, s, `small trial ${i} runs on b`);
      await ended(b, s);
    }
    assert.equal((await trial(big)).state, 'queued');
    assert.equal((await call('DELETE', `/api/trials/${big}`)).status, 202);
  });

  it('cancels a running lone trial on its worker; refuses without the token, unknown, ended', async () => {
    const b = workers[1] as ScriptedWorker;
    const id = await postTrial('to-cancel', 1);
    assert.equal((await b.assigned()).trialId, id);
    await until('running', async () => (await trial(id)).state === 'running');
    const anonymous = await call('DELETE', `/api/trials/${id}`, undefined, null);
    assert.equal(anonymous.status, 401);
    assert.equal((await trial(id)).state, 'running');
    const del = await call('DELETE', `/api/trials/${id}`);
    assert.equal(del.status, 202);
    assert.equal((del.json['trial'] as TrialRecord).state, 'cancelled');
    await until('stop sent', () => b.inbox.some((m) => m.stop?.trialId === id));
    assert.equal(b.current(), null);
    const again = await call('DELETE', `/api/trials/${id}`);
    assert.equal(again.status, 409);
    assert.match(String(again.json['error']), /already ended: cancelled/);
    const unknown = await call('DELETE', '/api/trials/no-such-trial');
    assert.equal(unknown.status, 404);
    // b is free again: the next trial runs.
    const next = await postTrial('after-cancel', 1);
    assert.equal((await b.assigned()).trialId, next);
    await ended(b, next);
  });

  it('refuses to cancel one trial of a sweep (the sweep is cancelled instead)', async () => {
    const created = await call('POST', '/api/sweeps', { yaml: sweepYaml('one', 2) });
    assert.equal(created.status, 201);
    const sweepId = (created.json['sweep'] as { id: string }).id;
    const { trials } = await plane.store.listTrials(sweepId);
    const first = trials[0];
    assert.ok(first);
    const del = await call('DELETE', `/api/trials/${first.id}`);
    assert.equal(del.status, 409);
    assert.match(String(del.json['error']), new RegExp(`mmim sweep cancel ${sweepId}`));
    // Left queued (it needs two workers): the restart below refuses it under a lower limit.
    assert.equal((await trial(first.id)).state, 'queued');
  });

  it('cancels with `mmim trial cancel ID` (exit 0), and names the problem for an ended one (non-zero)', async () => {
    const id = await postTrial('cli-cancel', 2);
    const tokenFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-admission-')), 'admin');
    fs.writeFileSync(tokenFile, `${ADMIN}\n`, { mode: 0o600 });
    const mmim = (args: string[]) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(
          process.execPath,
          [
            path.join(REPO, 'apps/cli/bin/mmim.js'),
            ...args,
            '--url',
            base,
            '--admin-token-file',
            tokenFile,
          ],
          { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('exit', (code) => resolve({ code, out, err }));
      });
    const ok = await mmim(['trial', 'cancel', id]);
    assert.equal(ok.code, 0, ok.err);
    assert.equal(ok.out.trim(), `trial ${id}: cancelled`);
    assert.equal((await trial(id)).state, 'cancelled');
    const again = await mmim(['trial', 'cancel', id]);
    assert.notEqual(again.code, 0);
    assert.match(again.err, /already ended: cancelled/);
  });

  it('restarts on the same Redis with a clean queue: cancelled stay ended, oversized are refused', async () => {
    const cancelled = (await plane.store.listTrials(null, { state: ['cancelled'] })).trials;
    assert.ok(cancelled.length >= 3);
    const waiting = await postTrial('waits-for-two', 2);
    const { trials: sweepTrials } = await plane.store.listTrials(null, { state: ['queued'] });
    assert.ok(sweepTrials.some((t) => t.sweepId !== null));
    for (const w of workers.splice(0)) w.close();
    await plane.close();

    // The operator lowers the limit: what was queued above it can never run now.
    plane = await ControlPlane.start(options({ maxWorkersPerTrial: 1 }));
    base = plane.httpUrl ?? '';
    for (const t of cancelled) assert.equal((await trial(t.id)).state, 'cancelled');
    const refused = await trial(waiting);
    assert.equal(refused.state, 'failed');
    assert.match(refused.error ?? '', /refused: workers per trial 2 exceeds .* maximum of 1/);
    const sweeps = await plane.store.listSweeps();
    const sweep = sweeps.find((s) => s.name === 'one');
    assert.equal(sweep?.state, 'cancelled');
    const events = await plane.store.sweepEvents(sweep?.id ?? '');
    assert.ok(events.some((e) => /refused: workers_per_trial 2 exceeds/.test(e.message)));
    assert.equal((await plane.store.listTrials(null, { state: ['queued', 'running'] })).total, 0);
    assert.equal(await plane.queue.depth(), 0);
    assert.deepEqual(plane.queue.held(), []);
    // And the cluster works: a new worker takes a new trial at once.
    const c = await join('c');
    const id = await postTrial('after-restart', 1);
    assert.equal((await c.assigned()).trialId, id);
  });
});
