/**
 * Security checks of the whole coordinator (ControlPlane) over real gRPC and a real Redis:
 * - it runs as a Redis ACL user that may only touch keys and channels under `mmim:` (the ACL
 *   docs/operations.md documents), sweeps and the trial queue included;
 * - a worker may only report for the trial and rank it runs: reports for another trial are
 *   refused, logged, and change nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { JOIN_TOKEN_METADATA_KEY, loadProtocol, type WorkerRegistryClient } from '@mmim/protocol';
import { startRedisServer, type RedisServerHandle } from '@mmim/param-server/testing';
import type { Logger } from '@mmim/runtime';
import { ControlPlane } from '../control-plane.js';

const JOIN = 'security-join-token-0123456789';
const ACL_PASSWORD = 'acl-password-0123456789';
/** The ACL of docs/operations.md: our prefix only, no dangerous commands but INFO. */
const ACL_RULES = [
  'on',
  `>${ACL_PASSWORD}`,
  'resetkeys',
  '~mmim:*',
  'resetchannels',
  '&mmim:*',
  '+@all',
  '-@dangerous',
  '+info',
];

const SWEEP = `
name: acl-check
data: {synthetic: mosi, train: 32, valid: 16, test: 16}
method: random
metric: {name: valid.mae, goal: minimize}
parameters:
  lr_main: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
seeds: [1]
run_cap: 2
`;

describe('coordinator security', { timeout: 120_000 }, () => {
  let redis: RedisServerHandle;
  let plane: ControlPlane;
  let client: WorkerRegistryClient;
  const logLines: Record<string, unknown>[] = [];

  before(async () => {
    redis = await startRedisServer();
    const admin = redis.client();
    await admin.call('ACL', 'SETUSER', 'mmim', ...ACL_RULES);
    await admin.quit();
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n'))
          if (line.trim() !== '') logLines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const log = pino({ level: 'info' }, sink) as unknown as Logger;
    plane = await ControlPlane.start({
      host: '127.0.0.1',
      port: 0,
      joinToken: JOIN,
      leaseMs: 3000,
      redisUrl: `redis://mmim:${ACL_PASSWORD}@127.0.0.1:${redis.port}`,
      httpHost: '127.0.0.1',
      httpPort: null,
      adminToken: 'security-admin-token-0123456789',
      readTokenRequired: false,
      queueLockMs: 30_000,
      dashboardDir: null,
      log,
    });
    const { WorkerRegistry } = loadProtocol().mmim.v1;
    client = new WorkerRegistry(plane.coordinator.address, grpc.credentials.createInsecure());
  });
  after(async () => {
    client?.close();
    await plane?.close();
    await redis?.stop();
  });

  it('works as an ACL user limited to the mmim: prefix (sweeps, trials, queue)', async () => {
    const sweep = await plane.sweeps.create(SWEEP);
    const { trials } = await plane.store.listTrials(sweep.id);
    assert.ok(trials.length >= 1, 'trials were recorded and queued');
    assert.ok((await plane.queue.depth()) >= 1, 'the queue holds them');
    // The same user cannot touch anything else.
    const other = redis.client();
    await other.call('AUTH', 'mmim', ACL_PASSWORD);
    await assert.rejects(other.set('elsewhere', '1'), /NOPERM/);
    await assert.rejects(other.call('FLUSHALL'), /NOPERM/);
    await other.quit();
  });

  it('refuses and logs reports for a trial the worker does not run; nothing changes', async () => {
    const md = new grpc.Metadata();
    md.set(JOIN_TOKEN_METADATA_KEY, JOIN);
    const reg = await new Promise<{ workerId: string; sessionKey: string }>((resolve, reject) =>
      client.Register(
        { capabilities: { backend: 'cpu', device: 'test', workerName: 'intruder', version: '0' } },
        md,
        (err, res) => (err || !res ? reject(err ?? new Error('no answer')) : resolve(res)),
      ),
    );
    const { trials } = await plane.store.listTrials(null);
    const victim = trials[0];
    assert.ok(victim);
    const session = client.Session(md);
    session.on('data', () => undefined);
    session.on('error', () => undefined);
    // Not idle, so the coordinator places nothing on it: it only tries to speak for others.
    session.write({
      workerId: reg.workerId,
      sessionKey: reg.sessionKey,
      heartbeat: { state: 'WORKER_STATE_STOPPING' },
    });
    session.write({
      workerId: reg.workerId,
      epochReport: {
        trialId: victim.id,
        rank: 0,
        epoch: 1,
        recordJson: JSON.stringify({ valid: { mae: 0 }, test: { mae: 0 } }),
      },
    });
    session.write({
      workerId: reg.workerId,
      trialEnded: { trialId: victim.id, rank: 0, outcome: 'TRIAL_OUTCOME_COMPLETED' },
    });
    const metrics = client.ReportMetrics(md, () => undefined);
    metrics.write({
      workerId: reg.workerId,
      trialId: victim.id,
      rank: 0,
      step: 1,
      name: 'train/loss',
      value: 1,
    });
    metrics.end();
    const deadline = Date.now() + 10_000;
    while (!logLines.some((l) => String(l['msg']).includes('does not run'))) {
      if (Date.now() > deadline) throw new Error('the refusal was not logged');
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1500)); // past a curve flush
    const after = await plane.store.getTrial(victim.id);
    assert.equal(after?.state, victim.state, 'not completed by a stranger');
    assert.equal(after?.epochs, 0, 'no epoch recorded');
    assert.deepEqual(await plane.store.curveNames(victim.id), [], 'no curve points stored');
    const refusal = logLines.find((l) => String(l['msg']).includes('does not run'));
    assert.equal(refusal?.['trialId'], victim.id);
    session.end();
  });
});
