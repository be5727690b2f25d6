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
});
