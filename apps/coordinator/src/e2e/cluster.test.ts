/**
 * A real cluster: the coordinator and three workers as child processes on loopback. Checks
 * registration, heartbeats, token refusal, health, loss of a SIGKILLed worker within its lease,
 * and reconnection after a coordinator restart.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { checkHealth, loadProtocol, type RegisterResponse__Output } from '@mmim/protocol';
import { startRedisServer, type RedisServerHandle } from '@mmim/param-server/testing';
import {
  startCoordinator,
  startWorker,
  stop,
  type Child,
  type CoordinatorChild,
  type LogLine,
} from '../testing/processes.js';

const TOKEN = 'e2e-token-0123456789abcdef';
const LEASE_MS = 2000;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-cluster-'));
const tokenFile = path.join(dir, 'token');
const badTokenFile = path.join(dir, 'bad-token');
fs.writeFileSync(tokenFile, `${TOKEN}\n`);
fs.writeFileSync(badTokenFile, 'not-the-token\n');

let redis: RedisServerHandle;
const coordinatorArgs = (port: number): string[] => [
  '--port',
  String(port),
  '--http-port',
  '0',
  '--redis',
  `redis://127.0.0.1:${redis.port}`,
  '--token-file',
  tokenFile,
  '--lease-ms',
  String(LEASE_MS),
];
const traceEnv = { MMIM_LOG_LEVEL: 'trace' };

const registered = (name: string) => (l: LogLine) =>
  l.msg === 'worker registered' && l['workerName'] === name;

describe('coordinator + workers as processes', { timeout: 60_000 }, () => {
  let coordinator: CoordinatorChild;
  const workers = new Map<string, Child>();
  const idOf = new Map<string, string>();

  before(async () => {
    redis = await startRedisServer();
    coordinator = await startCoordinator(coordinatorArgs(0), traceEnv);
    for (const name of ['w0', 'w1', 'w2']) {
      workers.set(
        name,
        startWorker([
          '--coordinator',
          coordinator.address,
          '--token-file',
          tokenFile,
          '--name',
          name,
        ]),
      );
    }
  });

  after(async () => {
    await Promise.all([...workers.values()].map((w) => stop(w)));
    await stop(coordinator);
    await redis.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers SERVING to the gRPC health check', async () => {
    assert.equal(await checkHealth(coordinator.address), 'SERVING');
    assert.equal(
      await checkHealth(coordinator.address, undefined, 'mmim.v1.WorkerRegistry'),
      'SERVING',
    );
  });

  it('registers every worker and receives their heartbeats', async () => {
    for (const name of workers.keys()) {
      const line = await coordinator.log.waitFor(registered(name), 20_000, `${name} registered`);
      idOf.set(name, String(line['workerId']));
    }
    for (const [name, id] of idOf) {
      // Three heartbeats span more than a lease: the lease is being renewed, not just granted.
      const beats = (l: LogLine) => l.msg === 'heartbeat' && l['workerId'] === id;
      await coordinator.log.waitFor(
        () => coordinator.log.count(beats) >= 4,
        5000,
        `${name} heartbeats`,
      );
    }
    assert.equal(
      coordinator.log.count((l) => l.msg === 'worker lost'),
      0,
    );
  });

  it('refuses a worker with a wrong token with UNAUTHENTICATED, and it gives up', async () => {
    const bad = startWorker([
      '--coordinator',
      coordinator.address,
      '--token-file',
      badTokenFile,
      '--name',
      'intruder',
    ]);
    const { code } = await bad.exited;
    assert.equal(code, 3);
    const refusal = await bad.log.waitFor((l) => l.msg === 'join refused', 1000);
    // The error itself, with its stack (issue 15 item 6), not only its message.
    const err = refusal['err'] as { code?: number; message?: string; stack?: string };
    assert.equal(err.code, grpc.status.UNAUTHENTICATED);
    assert.match(err.message ?? '', /wrong join token/);
    assert.match(err.stack ?? '', /FatalJoinError: [\s\S]*\n\s+at /);
    assert.equal(coordinator.log.count(registered('intruder')), 0);
  });

  it('refuses a call without a token with UNAUTHENTICATED and a clear message', async () => {
    const { WorkerRegistry } = loadProtocol().mmim.v1;
    const client = new WorkerRegistry(coordinator.address, grpc.credentials.createInsecure());
    try {
      const err = await new Promise<grpc.ServiceError | null>((resolve) =>
        client.Register(
          { capabilities: { workerName: 'anon', backend: 'cpu' } },
          (e: grpc.ServiceError | null, _r?: RegisterResponse__Output) => resolve(e),
        ),
      );
      assert.equal(err?.code, grpc.status.UNAUTHENTICATED);
      assert.match(err?.details ?? '', /missing join token.*mmim-join-token/);
    } finally {
      client.close();
    }
  });

  it('marks a SIGKILLed worker lost within its lease plus a margin', async () => {
    const victim = workers.get('w2')!;
    const killedAt = Date.now();
    await stop(victim, 'SIGKILL');
    workers.delete('w2');
    const lost = await coordinator.log.waitFor(
      (l) => l.msg === 'worker lost' && l['workerId'] === idOf.get('w2'),
      LEASE_MS + 3000,
      'w2 lost',
    );
    const after = Number(lost['time']) - killedAt;
    assert.ok(after <= LEASE_MS + 1500, `lost after ${after} ms`);
    assert.equal(
      coordinator.log.count((l) => l.msg === 'worker lost'),
      1,
      'only w2 is lost',
    );
  });

  it('sees the workers reconnect to a restarted coordinator on the same port', async () => {
    const port = coordinator.port;
    await stop(coordinator, 'SIGTERM');
    coordinator = await startCoordinator(coordinatorArgs(port), traceEnv);
    for (const name of workers.keys()) {
      const line = await coordinator.log.waitFor(
        registered(name),
        15_000,
        `${name} registered again`,
      );
      const id = line['workerId'];
      await coordinator.log.waitFor(
        (l) => l.msg === 'session opened' && l['workerId'] === id,
        5000,
        `${name} session`,
      );
    }
    assert.equal(await checkHealth(coordinator.address), 'SERVING');
  });
});
