/**
 * The coordinator's gRPC handlers under garbage, through the real server over loopback: every
 * call ends with an allowed status, the server keeps serving, and no call without the right
 * join token is ever accepted or changes what the coordinator knows. Fixed seeds, bounded runs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { CLIENT_CHANNEL_OPTIONS, loadProtocol, type WorkerRegistryClient } from '@mmim/protocol';
import {
  ALLOWED_CODES,
  healthCheck,
  metadataFor,
  rawCall,
  rawCases,
  rawHttp2Call,
  rawHttp2Cases,
  startFuzzServer,
  typedMetric,
  typedRegister,
  typedWorkerMessage,
  type FuzzServer,
  type Observed,
} from './grpc-fuzz.js';

const SERVING = 1;

describe('fuzz: coordinator gRPC handlers (real server, loopback)', () => {
  let server: FuzzServer;
  let raw: grpc.Client;
  let typed: WorkerRegistryClient;
  let workerId: string;

  /** Session keys of the registered workers (a well-behaved worker sends its own). */
  const keys = new Map<string, string>();
  const register = (): Promise<string> =>
    new Promise((resolve, reject) =>
      typed.Register(
        { capabilities: { backend: 'cpu', device: 'CPU', workerName: 'fuzz-legit', version: 't' } },
        metadataFor('token', server.token),
        (err, res) => {
          if (err || !res) return reject(err ?? new Error('no response'));
          keys.set(res.workerId, res.sessionKey);
          resolve(res.workerId);
        },
      ),
    );

  before(async () => {
    server = await startFuzzServer();
    const address = server.coordinator.address;
    raw = new grpc.Client(address, grpc.credentials.createInsecure(), CLIENT_CHANNEL_OPTIONS);
    const { WorkerRegistry } = loadProtocol().mmim.v1;
    typed = new WorkerRegistry(address, grpc.credentials.createInsecure(), CLIENT_CHANNEL_OPTIONS);
    workerId = await register();
  });
  after(async () => {
    raw.close();
    typed.close();
    await server.close();
  });

  it('refuses every unauthenticated call, whatever it sends, and nothing changes', async () => {
    const before = { ...server.observed };
    const poolSize = server.coordinator.pool.size;
    const codes = new Map<grpc.status, number>();
    await fc.assert(
      fc.asyncProperty(rawCases(workerId, ['none', 'wrong', 'twice', 'binary']), async (c) => {
        const r = await rawCall(raw, c.method, c.messages, metadataFor(c.credential, server.token));
        codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
        assert.notEqual(r.code, grpc.status.OK, `${c.method} without a valid token was accepted`);
        assert.ok(
          ALLOWED_CODES.has(r.code),
          `${c.method}: status ${grpc.status[r.code]} ${r.details}`,
        );
      }),
      { seed: 9001, numRuns: 150, endOnFailure: true },
    );
    assert.deepEqual(server.observed, before, 'an unauthenticated call changed the coordinator');
    assert.equal(server.coordinator.pool.size, poolSize);
    // Most are refused by the token check; bytes that are not a message fail to decode first.
    assert.ok((codes.get(grpc.status.UNAUTHENTICATED) ?? 0) > 0, `codes: ${[...codes.keys()]}`);
    assert.equal(await healthCheck(raw), SERVING);
  });

  it('answers garbage and mutated protobuf bytes with a status and keeps serving', async () => {
    const codes = new Map<grpc.status, number>();
    await fc.assert(
      fc.asyncProperty(rawCases(workerId, ['token']), async (c) => {
        const r = await rawCall(raw, c.method, c.messages, metadataFor('token', server.token));
        codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
        assert.ok(
          ALLOWED_CODES.has(r.code),
          `${c.method}: status ${grpc.status[r.code]} ${r.details}`,
        );
      }),
      { seed: 9002, numRuns: 300, endOnFailure: true },
    );
    // Both paths were exercised: messages that decoded (OK) and bytes that did not (INTERNAL).
    assert.ok((codes.get(grpc.status.OK) ?? 0) > 0, `codes: ${[...codes.entries()]}`);
    assert.ok((codes.get(grpc.status.INTERNAL) ?? 0) > 0, `codes: ${[...codes.entries()]}`);
    assert.equal(await healthCheck(raw), SERVING);
  });

  it('answers random typed messages (every field out of range) with a status', async () => {
    const ids = [workerId];
    const md = (): grpc.Metadata => metadataFor('token', server.token);
    await fc.assert(
      fc.asyncProperty(
        typedRegister(),
        fc.array(typedWorkerMessage(ids), { maxLength: 5 }),
        fc.array(typedMetric(ids), { maxLength: 5 }),
        async (reg, messages, points) => {
          const r1 = await new Promise<grpc.status>((resolve) =>
            typed.Register(reg, md(), (err) => resolve(err ? err.code : grpc.status.OK)),
          );
          assert.ok(ALLOWED_CODES.has(r1), `Register: ${grpc.status[r1]}`);
          const r2 = await new Promise<grpc.status>((resolve) => {
            const call = typed.Session(md(), { deadline: new Date(Date.now() + 3000) });
            call.on('data', () => undefined);
            call.on('error', (err: grpc.ServiceError) => resolve(err.code));
            call.on('status', (s: grpc.StatusObject) => resolve(s.code));
            for (const m of messages) call.write(m);
            call.end();
          });
          assert.ok(ALLOWED_CODES.has(r2), `Session: ${grpc.status[r2]}`);
          const r3 = await new Promise<grpc.status>((resolve) => {
            const call = typed.ReportMetrics(
              md(),
              { deadline: new Date(Date.now() + 3000) },
              (err) => resolve(err ? err.code : grpc.status.OK),
            );
            for (const p of points) call.write(p);
            call.end();
          });
          assert.ok(ALLOWED_CODES.has(r3), `ReportMetrics: ${grpc.status[r3]}`);
        },
      ),
      { seed: 9003, numRuns: 100, endOnFailure: true },
    );
    assert.equal(await healthCheck(raw), SERVING);
  });

  it('answers broken gRPC framing over raw HTTP/2 with a grpc-status', async () => {
    const before: Observed = { ...server.observed };
    await fc.assert(
      fc.asyncProperty(rawHttp2Cases(), async (c) => {
        const s = await rawHttp2Call(server.coordinator.address, server.token, c);
        assert.notEqual(s, null, `${c.method}: the response carried no grpc-status`);
        if (!c.withToken)
          assert.notEqual(s, grpc.status.OK, `${c.method} without a token was accepted`);
      }),
      { seed: 9004, numRuns: 60, endOnFailure: true },
    );
    assert.equal(server.observed.connected, before.connected, 'a raw frame opened a session');
    assert.equal(await healthCheck(raw), SERVING);
  });

  it('still serves a well-behaved worker afterwards: register, heartbeat, metrics acknowledged', async () => {
    const id = await register();
    const seen = server.observed.heartbeats;
    const status = await new Promise<grpc.status>((resolve) => {
      const call = typed.Session(metadataFor('token', server.token));
      call.on('data', () => undefined);
      call.on('error', (err: grpc.ServiceError) => resolve(err.code));
      call.on('status', (s: grpc.StatusObject) => resolve(s.code));
      call.write({
        workerId: id,
        sessionKey: keys.get(id) ?? '',
        heartbeat: { state: 'WORKER_STATE_IDLE' },
      });
      call.end();
    });
    assert.equal(status, grpc.status.OK);
    assert.equal(server.observed.heartbeats, seen + 1);
    const ack = await new Promise<number>((resolve, reject) => {
      const call = typed.ReportMetrics(metadataFor('token', server.token), (err, res) =>
        err || !res ? reject(err ?? new Error('no ack')) : resolve(Number(res.received)),
      );
      for (let i = 0; i < 3; i++)
        call.write({ workerId: id, trialId: 't', name: 'train/loss', value: i, step: i });
      call.end();
    });
    assert.equal(ack, 3);
  });
});
