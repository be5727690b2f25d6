/**
 * The long run's gRPC part: random raw calls (with and without the join token) and broken HTTP/2
 * framing against one in-process coordinator, for a time. A crash is a status outside the allowed
 * set, an unauthenticated call that succeeded or changed state, or a server that stops serving.
 */
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { CLIENT_CHANNEL_OPTIONS } from '@mmim/protocol';
import {
  ALLOWED_CODES,
  healthCheck,
  metadataFor,
  rawCall,
  rawCases,
  rawHttp2Call,
  rawHttp2Cases,
  startFuzzServer,
} from '../../test/fuzz/grpc-fuzz.js';

export interface GrpcFuzzStats {
  target: string;
  executions: number;
  seconds: number;
  knownCrashes: number;
  codes: Map<string, number>;
  /** Signature -> first description. */
  crashes: Map<string, string>;
}

export async function fuzzGrpcFor(seconds: number, seed: number): Promise<GrpcFuzzStats> {
  const server = await startFuzzServer();
  const client = new grpc.Client(
    server.coordinator.address,
    grpc.credentials.createInsecure(),
    CLIENT_CHANNEL_OPTIONS,
  );
  const stats: GrpcFuzzStats = {
    target: 'grpc',
    executions: 0,
    seconds: 0,
    knownCrashes: 0,
    codes: new Map(),
    crashes: new Map(),
  };
  const crash = (sig: string, what: string): void => {
    if (!stats.crashes.has(sig)) stats.crashes.set(sig, what);
  };
  const workerId = server.coordinator.pool.register({
    backend: 'cpu',
    device: 'CPU',
    memoryBytes: 0,
    version: 'fuzz',
    workerName: 'fuzz',
    adapter: null,
  }).id;
  const authed = rawCases(workerId, ['token']);
  const unauthed = rawCases(workerId, ['none', 'wrong', 'twice', 'binary']);
  const frames = rawHttp2Cases();
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  try {
    for (let round = 0; performance.now() < deadline; round++) {
      // Unauthenticated calls must leave no trace: compare the coordinator's counters around them.
      const before = JSON.stringify(server.observed);
      for (const c of fc.sample(unauthed, { seed: seed + round, numRuns: 20 })) {
        const r = await rawCall(
          client,
          c.method,
          c.messages,
          metadataFor(c.credential, server.token),
        );
        stats.executions += 1;
        const name = grpc.status[r.code];
        stats.codes.set(name, (stats.codes.get(name) ?? 0) + 1);
        if (r.code === grpc.status.OK)
          crash(
            `unauthenticated ${c.method} accepted`,
            `${c.credential}: ${c.messages.length} messages`,
          );
      }
      if (JSON.stringify(server.observed) !== before)
        crash(
          'unauthenticated calls changed state',
          `${before} -> ${JSON.stringify(server.observed)}`,
        );
      for (const c of fc.sample(authed, { seed: seed + round, numRuns: 60 })) {
        const r = await rawCall(client, c.method, c.messages, metadataFor('token', server.token));
        stats.executions += 1;
        const name = grpc.status[r.code];
        stats.codes.set(name, (stats.codes.get(name) ?? 0) + 1);
        if (!ALLOWED_CODES.has(r.code)) crash(`${c.method} answered ${name}`, r.details);
      }
      for (const c of fc.sample(frames, { seed: seed + round, numRuns: 10 })) {
        stats.executions += 1;
        try {
          const s = await rawHttp2Call(server.coordinator.address, server.token, c);
          if (s === null)
            crash(
              `${c.method}: raw HTTP/2 answer without grpc-status`,
              c.body.toString('hex').slice(0, 80),
            );
          else if (s === 0 && !c.withToken)
            crash(`${c.method}: raw HTTP/2 without token accepted`, '');
        } catch (err) {
          crash(`${c.method}: raw HTTP/2 call got no answer`, (err as Error).message);
        }
      }
      try {
        if ((await healthCheck(client)) !== 1) crash('health not SERVING', '');
      } catch (err) {
        crash('health check failed', (err as Error).message);
        break;
      }
    }
  } finally {
    client.close();
    await server.close();
  }
  stats.seconds = (performance.now() - t0) / 1000;
  return stats;
}
