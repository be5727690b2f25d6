/** Session stream edge cases against an in-process coordinator. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { JOIN_TOKEN_METADATA_KEY, loadProtocol, type WorkerRegistryClient } from '@mmim/protocol';
import { createLogger } from '@mmim/runtime';
import { Coordinator } from '../coordinator.js';

const TOKEN = 'session-token-0123456789';

describe('Session stream', () => {
  let coordinator: Coordinator;
  let client: WorkerRegistryClient;
  const md = (token = TOKEN): grpc.Metadata => {
    const m = new grpc.Metadata();
    m.set(JOIN_TOKEN_METADATA_KEY, token);
    return m;
  };
  /** Opens a Session, sends one message, resolves with the status it ends with. */
  const sessionError = (workerId: string, token?: string): Promise<grpc.ServiceError> =>
    new Promise((resolve) => {
      const call = client.Session(md(token));
      call.on('data', () => undefined);
      call.on('error', (err: grpc.ServiceError) => resolve(err));
      call.write({ workerId, heartbeat: { state: 'WORKER_STATE_IDLE' } });
    });

  before(async () => {
    coordinator = await Coordinator.start({
      host: '127.0.0.1',
      port: 0,
      joinToken: TOKEN,
      leaseMs: 3000,
      log: createLogger('coordinator'),
    });
    const { WorkerRegistry } = loadProtocol().mmim.v1;
    client = new WorkerRegistry(coordinator.address, grpc.credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await coordinator.close(200);
  });

  it('answers NOT_FOUND for a worker id it never issued (the worker must register)', async () => {
    const err = await sessionError('never-registered');
    assert.equal(err.code, grpc.status.NOT_FOUND);
    assert.match(err.details, /register again/);
  });

  it('answers UNAUTHENTICATED to a Session with a wrong token and registers nothing', async () => {
    const err = await sessionError('x', 'wrong');
    assert.equal(err.code, grpc.status.UNAUTHENTICATED);
    assert.equal(coordinator.pool.size, 0);
  });

  it('answers INVALID_ARGUMENT to a message without worker_id', async () => {
    const err = await sessionError('');
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
  });

  it('refuses a second client speaking for a live worker; the worker keeps its session and its lease', async () => {
    const reg = await new Promise<{ workerId: string; sessionKey: string }>((resolve, reject) =>
      client.Register(
        { capabilities: { backend: 'cpu', device: 'test', workerName: 'real', version: '0' } },
        md(),
        (err, res) => (err || !res ? reject(err ?? new Error('no answer')) : resolve(res)),
      ),
    );
    assert.match(reg.sessionKey, /^[0-9a-f]{64}$/);
    const open = (key: string) => {
      const call = client.Session(md());
      const ended = new Promise<grpc.ServiceError | null>((resolve) => {
        call.on('error', (err: grpc.ServiceError) => resolve(err));
        call.on('end', () => resolve(null));
      });
      call.on('data', () => undefined);
      const beat = (): void => {
        call.write({
          workerId: reg.workerId,
          sessionKey: key,
          heartbeat: { state: 'WORKER_STATE_IDLE' },
        });
      };
      return { call, ended, beat };
    };
    const real = open(reg.sessionKey);
    real.beat();
    await until(() => coordinator.pool.get(reg.workerId)?.status === 'connected');
    // The id is public (the dashboard lists it) and the join token shared: not enough.
    for (const key of ['', 'guessed'.padEnd(64, '0')]) {
      const impostor = open(key);
      impostor.beat();
      const err = await impostor.ended;
      assert.equal(err?.code, grpc.status.PERMISSION_DENIED);
      assert.match(err?.details ?? '', /belongs to the client that registered it/);
    }
    // The real worker is still connected, its stream still bound, its heartbeats still renew.
    const record = coordinator.pool.get(reg.workerId);
    assert.equal(record?.status, 'connected');
    const seen = record?.lastSeen ?? 0;
    await new Promise((r) => setTimeout(r, 20));
    real.beat();
    await until(() => (coordinator.pool.get(reg.workerId)?.lastSeen ?? 0) > seen);
    // The worker itself reconnecting (its key): the new stream takes over, the old one is told.
    const again = open(reg.sessionKey);
    again.beat();
    await until(() => coordinator.pool.get(reg.workerId)?.status === 'connected');
    await new Promise((r) => setTimeout(r, 50));
    real.beat();
    const old = await real.ended;
    assert.equal(old?.code, grpc.status.ABORTED);
    assert.equal(
      coordinator.pool.get(reg.workerId)?.status,
      'connected',
      'the old stream ending detaches nothing',
    );
    again.call.end();
  });
});

async function until(ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
