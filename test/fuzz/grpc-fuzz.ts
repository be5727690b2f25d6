/**
 * Fuzzing the coordinator's gRPC handlers through the real server over loopback: garbage and
 * mutated protobuf bytes (a grpc-js client with identity serializers, so nothing client-side
 * validates them), random typed messages, and raw HTTP/2 requests with broken gRPC framing.
 * Each call must end with a gRPC status in the allowed set; unauthenticated calls must never
 * succeed nor change the coordinator's state.
 */
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { Coordinator } from '@mmim/coordinator';
import {
  JOIN_TOKEN_METADATA_KEY,
  loadProtocol,
  type MetricPoint,
  type WorkerMessage,
} from '@mmim/protocol';
import { createLogger, type Logger } from '@mmim/runtime';
import { fuzzInputs } from './harness/mutate.js';

export const SERVICE = '/mmim.v1.WorkerRegistry';
export const METHODS = ['Register', 'Session', 'ReportMetrics'] as const;
export type Method = (typeof METHODS)[number];

/** A silent logger: thousands of refused calls would otherwise flood the test output. */
export function quietLogger(name: string): Logger {
  const saved = process.env['MMIM_LOG_LEVEL'];
  process.env['MMIM_LOG_LEVEL'] = 'silent';
  try {
    return createLogger(name);
  } finally {
    if (saved === undefined) delete process.env['MMIM_LOG_LEVEL'];
    else process.env['MMIM_LOG_LEVEL'] = saved;
  }
}

/** What the coordinator did, counted from its own events. */
export interface Observed {
  registered: number;
  connected: number;
  heartbeats: number;
  metrics: number;
  epochReports: number;
  trialEnded: number;
}

export interface FuzzServer {
  coordinator: Coordinator;
  token: string;
  observed: Observed;
  close(): Promise<void>;
}

export async function startFuzzServer(token = 'fuzz-join-token-0123456789'): Promise<FuzzServer> {
  const coordinator = await Coordinator.start({
    host: '127.0.0.1',
    port: 0,
    joinToken: token,
    leaseMs: 60_000,
    log: quietLogger('fuzz-coordinator'),
  });
  const observed: Observed = {
    registered: 0,
    connected: 0,
    heartbeats: 0,
    metrics: 0,
    epochReports: 0,
    trialEnded: 0,
  };
  coordinator.pool.on('registered', () => (observed.registered += 1));
  coordinator.pool.on('connected', () => (observed.connected += 1));
  coordinator.pool.on('heartbeat', () => (observed.heartbeats += 1));
  coordinator.registry.on('metric', () => (observed.metrics += 1));
  coordinator.registry.on('epochReport', () => (observed.epochReports += 1));
  coordinator.registry.on('trialEnded', () => (observed.trialEnded += 1));
  return { coordinator, token, observed, close: () => coordinator.close(200) };
}

const identity = (x: Buffer): Buffer => x;

/** How a fuzz call presents itself. */
export type Credential = 'token' | 'none' | 'wrong' | 'twice' | 'binary';

export function metadataFor(credential: Credential, token: string): grpc.Metadata {
  const md = new grpc.Metadata();
  if (credential === 'token') md.set(JOIN_TOKEN_METADATA_KEY, token);
  if (credential === 'wrong') md.set(JOIN_TOKEN_METADATA_KEY, `${token}x`);
  if (credential === 'twice') {
    md.add(JOIN_TOKEN_METADATA_KEY, token);
    md.add(JOIN_TOKEN_METADATA_KEY, token);
  }
  // The right token, but in a binary entry: its value is a Buffer, never a string.
  if (credential === 'binary') md.set(`${JOIN_TOKEN_METADATA_KEY}-bin`, Buffer.from(token));
  return md;
}

export interface CallResult {
  code: grpc.status;
  details: string;
  ms: number;
}

/**
 * One raw call: `messages` are sent as they are (no protobuf encoding); resolves with the status
 * the server ended the call with. Unary Register sends the first message only.
 */
export function rawCall(
  client: grpc.Client,
  method: Method,
  messages: readonly Buffer[],
  metadata: grpc.Metadata,
  deadlineMs = 3000,
): Promise<CallResult> {
  const path = `${SERVICE}/${method}`;
  const options: grpc.CallOptions = { deadline: new Date(Date.now() + deadlineMs) };
  const t0 = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (code: grpc.status, details: string): void => {
      if (settled) return;
      settled = true;
      resolve({ code, details, ms: performance.now() - t0 });
    };
    const onEnd = (err: grpc.ServiceError | null): void =>
      err ? done(err.code, err.details) : done(grpc.status.OK, '');
    if (method === 'Register') {
      client.makeUnaryRequest(
        path,
        identity,
        identity,
        messages[0] ?? Buffer.alloc(0),
        metadata,
        options,
        onEnd,
      );
      return;
    }
    if (method === 'ReportMetrics') {
      const call = client.makeClientStreamRequest(
        path,
        identity,
        identity,
        metadata,
        options,
        onEnd,
      );
      for (const m of messages) call.write(m);
      call.end();
      return;
    }
    const call = client.makeBidiStreamRequest(path, identity, identity, metadata, options);
    call.on('data', () => undefined);
    call.on('error', (err: grpc.ServiceError) => done(err.code, err.details));
    call.on('status', (s: grpc.StatusObject) => done(s.code, s.details));
    for (const m of messages) call.write(m);
    call.end();
  });
}

/** grpc.health.v1.Health/Check for the whole server, encoded by hand: the status number. */
export function healthCheck(client: grpc.Client, deadlineMs = 2000): Promise<number> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      identity,
      identity,
      Buffer.alloc(0),
      new grpc.Metadata(),
      { deadline: new Date(Date.now() + deadlineMs) },
      (err, res) => {
        if (err) reject(err);
        // HealthCheckResponse { status = 1 (varint) }; SERVING is 1, absent field is UNKNOWN (0).
        else resolve(res && res.length >= 2 && res[0] === 0x08 ? (res[1] as number) : 0);
      },
    );
  });
}

/** Serialized valid messages of each method, from the .proto's own serializers. */
export function validMessages(workerId: string): Record<Method, Buffer[]> {
  const def = loadProtocol().packageDefinition['mmim.v1.WorkerRegistry'] as unknown as Record<
    Method,
    { requestSerialize: (v: unknown) => Buffer }
  >;
  const reg = (v: unknown): Buffer => def.Register.requestSerialize(v);
  const ses = (v: WorkerMessage): Buffer => def.Session.requestSerialize(v);
  const met = (v: MetricPoint): Buffer => def.ReportMetrics.requestSerialize(v);
  return {
    Register: [
      reg({
        capabilities: {
          backend: 'wasm',
          device: 'CPU',
          memoryBytes: 1 << 30,
          version: '0.1.0',
          workerName: 'fuzz-a',
        },
      }),
      reg({
        capabilities: {
          backend: 'tensorflow-gpu',
          device: 'GPU: H200',
          memoryBytes: '150000000000',
          version: 'x',
          workerName: 'n',
        },
      }),
      reg({
        capabilities: {
          backend: 'webgpu',
          device: 'CPU rasteriser (WebGPU/OpenGL ES): llvmpipe',
          workerName: 'gl',
          adapter: {
            device: 'llvmpipe',
            description: 'OpenGL ES 3.2 Mesa',
            route: 'opengles',
            software: true,
            limits: { maxBufferSize: 2 ** 31, maxComputeInvocationsPerWorkgroup: 256 },
          },
        },
      }),
    ],
    Session: [
      ses({ workerId, heartbeat: { state: 'WORKER_STATE_IDLE', sentAtMs: Date.now() } }),
      ses({
        workerId,
        heartbeat: {
          state: 'WORKER_STATE_TRAINING',
          trialId: 't1',
          rank: 1,
          stepTimeMs: 12.5,
          step: 99,
        },
      }),
      ses({
        workerId,
        epochReport: {
          trialId: 't1',
          rank: 0,
          epoch: 2,
          recordJson: '{"epoch":2,"valid":{"mae":0.9}}',
        },
      }),
      ses({
        workerId,
        trialEnded: {
          trialId: 't1',
          rank: 0,
          outcome: 'TRIAL_OUTCOME_FAILED',
          error: 'boom',
          resultJson: '{}',
        },
      }),
    ],
    ReportMetrics: [
      met({
        workerId,
        trialId: 't1',
        rank: 0,
        step: 3,
        epoch: 1,
        name: 'train/loss',
        value: 0.5,
        timestampMs: Date.now(),
      }),
      met({ workerId, trialId: 't1', name: 'valid/mae', value: Number.NaN }),
    ],
  };
}

export interface RawCase {
  method: Method;
  credential: Credential;
  messages: Buffer[];
}

/** Random raw calls: each message is a mutated valid encoding of its method or random bytes. */
export function rawCases(
  workerId: string,
  credentials: readonly Credential[],
): fc.Arbitrary<RawCase> {
  const valid = validMessages(workerId);
  const byMethod = METHODS.map((method) =>
    fc.record({
      method: fc.constant(method),
      credential: fc.constantFrom(...credentials),
      messages: fc
        .array(
          fuzzInputs(
            valid[method].map((bytes, i) => ({
              name: `${method}-${i}`,
              bytes: new Uint8Array(bytes),
            })),
            { text: false, maxMutations: 4, maxRandomBytes: 200 },
          ),
          { minLength: method === 'Register' ? 1 : 0, maxLength: method === 'Register' ? 1 : 6 },
        )
        .map((inputs) => inputs.map((x) => Buffer.from(x.bytes))),
    }),
  );
  return fc.oneof(...byMethod);
}

/** Random typed messages: every field in and out of its range, strings of any code point. */
export function typedWorkerMessage(workerIds: readonly string[]): fc.Arbitrary<WorkerMessage> {
  const id = fc.oneof(
    fc.constantFrom(...workerIds, ''),
    fc.string({ unit: 'binary', maxLength: 40 }),
  );
  const u64 = fc.oneof(fc.nat(), fc.constantFrom('18446744073709551615', '9007199254740993', '0'));
  const dbl = fc.double();
  const heartbeat = fc.record(
    {
      state: fc.constantFrom(
        'WORKER_STATE_UNSPECIFIED',
        'WORKER_STATE_IDLE',
        'WORKER_STATE_TRAINING',
        'WORKER_STATE_STOPPING',
      ) as fc.Arbitrary<'WORKER_STATE_IDLE'>,
      trialId: fc.string({ unit: 'binary', maxLength: 30 }),
      rank: fc.nat({ max: 0xffffffff }),
      stepTimeMs: dbl,
      step: u64,
      sentAtMs: u64,
    },
    { requiredKeys: [] },
  );
  const text = fc.string({ unit: 'binary', maxLength: 200 });
  return fc.oneof(
    fc.record({ workerId: id, heartbeat }),
    fc.record({
      workerId: id,
      epochReport: fc.record({
        trialId: text,
        rank: fc.nat({ max: 0xffffffff }),
        epoch: fc.nat({ max: 0xffffffff }),
        recordJson: fc.oneof(text, fc.json()),
      }),
    }),
    fc.record({
      workerId: id,
      trialEnded: fc.record({
        trialId: text,
        rank: fc.nat({ max: 0xffffffff }),
        outcome: fc.constantFrom(
          'TRIAL_OUTCOME_UNSPECIFIED',
          'TRIAL_OUTCOME_COMPLETED',
          'TRIAL_OUTCOME_FAILED',
          'TRIAL_OUTCOME_STOPPED',
        ) as fc.Arbitrary<'TRIAL_OUTCOME_FAILED'>,
        error: text,
        resultJson: fc.oneof(text, fc.json()),
      }),
    }),
    fc.record({ workerId: id }),
  );
}

export function typedMetric(workerIds: readonly string[]): fc.Arbitrary<MetricPoint> {
  return fc.record(
    {
      workerId: fc.oneof(
        fc.constantFrom(...workerIds),
        fc.string({ unit: 'binary', maxLength: 40 }),
      ),
      trialId: fc.string({ unit: 'binary', maxLength: 40 }),
      rank: fc.nat({ max: 0xffffffff }),
      step: fc.oneof(fc.nat(), fc.constant('18446744073709551615')),
      epoch: fc.nat({ max: 0xffffffff }),
      name: fc.string({ unit: 'binary', maxLength: 60 }),
      value: fc.double(),
      timestampMs: fc.nat(),
    },
    { requiredKeys: [] },
  );
}

export function typedRegister(): fc.Arbitrary<{ capabilities?: Record<string, unknown> }> {
  const s = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.constantFrom('', ' ', '\u0000', 'a'.repeat(10_000)),
  );
  return fc.record(
    {
      capabilities: fc.record(
        {
          backend: s,
          device: s,
          memoryBytes: fc.oneof(fc.nat(), fc.constant('18446744073709551615')),
          version: s,
          workerName: s,
          adapter: fc.record(
            {
              vendor: s,
              architecture: s,
              device: s,
              description: s,
              route: s,
              software: fc.boolean(),
              limits: fc.record(
                {
                  maxBufferSize: fc.oneof(fc.nat(), fc.constant('18446744073709551615')),
                  maxStorageBufferBindingSize: fc.nat(),
                  maxComputeWorkgroupStorageSize: fc.nat({ max: 0xffffffff }),
                  maxComputeInvocationsPerWorkgroup: fc.nat({ max: 0xffffffff }),
                },
                { requiredKeys: [] },
              ),
            },
            { requiredKeys: [] },
          ),
        },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: [] },
  );
}

/** Statuses a handler may legitimately answer with; anything else means it broke. */
export const ALLOWED_CODES: ReadonlySet<grpc.status> = new Set([
  grpc.status.OK,
  grpc.status.INVALID_ARGUMENT,
  grpc.status.NOT_FOUND,
  grpc.status.UNAUTHENTICATED,
  grpc.status.PERMISSION_DENIED,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.RESOURCE_EXHAUSTED,
  // grpc-js's answer to bytes that are not the method's protobuf message.
  grpc.status.INTERNAL,
]);

export interface RawHttp2Case {
  /** Bytes of the request body (length-prefixed gRPC frames, possibly lying). */
  body: Buffer;
  /** grpc-encoding header, when the compressed flag is exercised. */
  encoding?: string;
  method: Method;
  withToken: boolean;
}

/** Broken gRPC framing: lying length prefixes, compressed flags with garbage, cut frames. */
export function rawHttp2Cases(): fc.Arbitrary<RawHttp2Case> {
  const frame = fc
    .record({
      flag: fc.constantFrom(0, 1, 2, 0xff),
      length: fc.oneof(
        fc.nat({ max: 64 }),
        fc.constantFrom(0xffffffff, 0x7fffffff, 4 * 1024 * 1024 + 1),
      ),
      payload: fc.uint8Array({ maxLength: 64 }),
    })
    .map(({ flag, length, payload }) => {
      const head = Buffer.alloc(5);
      head.writeUInt8(flag, 0);
      head.writeUInt32BE(length >>> 0, 1);
      return Buffer.concat([head, payload]);
    });
  return fc.record({
    body: fc.oneof(
      fc.array(frame, { minLength: 1, maxLength: 4 }).map((fs) => Buffer.concat(fs)),
      fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
    ),
    encoding: fc.option(fc.constantFrom('gzip', 'deflate', 'identity', 'snappy', 'x'), {
      nil: undefined,
    }),
    method: fc.constantFrom(...METHODS),
    withToken: fc.boolean(),
  });
}

/**
 * Sends one raw HTTP/2 request to the server and reads its grpc-status (from headers or
 * trailers); null when the response carried none (a protocol violation by the server).
 */
export function rawHttp2Call(
  address: string,
  token: string,
  c: RawHttp2Case,
  timeoutMs = 3000,
): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${address}`);
    let grpcStatus: number | null = null;
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    session.on('error', () => undefined);
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': `${SERVICE}/${c.method}`,
      'content-type': 'application/grpc',
      te: 'trailers',
    };
    if (c.encoding !== undefined) headers['grpc-encoding'] = c.encoding;
    if (c.withToken) headers[JOIN_TOKEN_METADATA_KEY] = token;
    const req = session.request(headers);
    const take = (h: http2.IncomingHttpHeaders): void => {
      const s = h['grpc-status'];
      if (typeof s === 'string') grpcStatus = Number(s);
    };
    req.on('response', take);
    req.on('trailers', take);
    req.on('data', () => undefined);
    req.on('error', () => undefined);
    req.on('close', () => {
      clearTimeout(timer);
      session.close();
      resolve(grpcStatus);
    });
    req.end(c.body);
  });
}
