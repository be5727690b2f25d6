import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CheckpointStore,
  ExperimentStore,
  METRIC_KEYS,
  type ChangeEvent,
  type Curve,
  type SweepRecord,
  type TrialRecord,
  type WorkerAdapter,
  type WorkerSnapshot,
} from '@mmim/experiments';
import { fixtureEpoch, fixtureSweep, fixtureTrial } from '@mmim/experiments/testing';
import { startRedisServer, type RedisServerHandle } from '@mmim/param-server/testing';
import { createLogger } from '@mmim/runtime';
import type { Redis } from 'ioredis';
import { CoordinatorMetrics, METRIC_NAMES } from './metrics.js';
import { createHttpServer, SECURITY_HEADERS, type HttpServerHandle } from './server.js';
import { StoreSweepControl } from './testing.js';

process.env['MMIM_LOG_LEVEL'] ??= 'silent';

const ADMIN = 'admin-token-0123456789abcdef0123456789';
const JOIN_TOKEN = 'join-token-never-given-to-the-http-server-42';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json: unknown;
}

/** Every answer of the suite, checked at the end for secrets. */
const seen: Answer[] = [];

/** A raw request: the path goes on the wire exactly as given (no URL normalisation). */
function request(
  base: string,
  method: string,
  rawPath: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const url = new URL(base);
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers['authorization'] = `Bearer ${opts.token}`;
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  if (payload !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method, path: rawPath, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const text = body.toString('utf8');
          let json: unknown = null;
          try {
            json = JSON.parse(text);
          } catch {
            json = null;
          }
          const answer = { status: res.statusCode ?? 0, headers: res.headers, body, text, json };
          seen.push(answer);
          resolve(answer);
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Opens /api/events and collects its text; resolves once the stream says it is live. */
function openEvents(
  base: string,
  query = '',
): Promise<{ res: http.IncomingMessage; text: () => string; close: () => void }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: url.hostname, port: url.port, path: `/api/events${query}` },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          const first = !text.includes(': connected');
          text += d;
          if (first && text.includes(': connected')) {
            resolve({ res, text: () => text, close: () => req.destroy() });
          }
        });
        res.on('error', () => undefined);
        if (res.statusCode !== 200) {
          reject(new Error(`events answered ${res.statusCode}`));
          req.destroy();
        }
      },
    );
    req.on('error', () => undefined);
  });
}

async function waitFor(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function errorOf(a: Answer): string {
  return (a.json as { error?: string } | null)?.error ?? '';
}

/** A hardware adapter as a webgpu worker on an H200 reports it (limits above 2^32 included). */
const H200_ADAPTER: WorkerAdapter = {
  vendor: 'nvidia',
  architecture: 'hopper',
  device: 'NVIDIA H200',
  description: 'NVIDIA: 565.57.01',
  route: 'vulkan',
  software: false,
  limits: {
    maxBufferSize: 2 ** 40,
    maxStorageBufferBindingSize: 2 ** 32 - 4,
    maxComputeWorkgroupStorageSize: 49152,
    maxComputeInvocationsPerWorkgroup: 1024,
  },
};

describe('dashboard HTTP API over loopback with a real redis-server', () => {
  let redis: RedisServerHandle;
  let client: Redis;
  let store: ExperimentStore;
  let checkpoints: CheckpointStore;
  let metrics: CoordinatorMetrics;
  let server: HttpServerHandle;
  let base: string;
  let staticRoot: string;
  const checkpointBytes = new Uint8Array(5000).map((_, i) => (i * 7) % 256);

  const t = (i: number, over: Partial<TrialRecord>): TrialRecord =>
    fixtureTrial({ id: `s1-t${i}`, sweepId: 's1', number: i, createdAt: 1000 + i, ...over });

  before(async () => {
    redis = await startRedisServer();
    client = redis.client();
    store = new ExperimentStore(client);
    checkpoints = new CheckpointStore(client);
    metrics = new CoordinatorMetrics();

    await store.putSweep(fixtureSweep({ id: 's0', name: 'older', createdAt: 1 }));
    const sweep: SweepRecord = fixtureSweep({
      id: 's1',
      name: 'lr sweep',
      createdAt: 2,
      spec: { parameters: { opt: { values: ['sgd', 'adam'] }, lr: { min: 0, max: 1 } } },
    });
    await store.putSweep(sweep);
    // lr is perfectly rank-correlated with the objective; opt is not.
    const finished: [number, number, string, number, 'completed' | 'pruned'][] = [
      [0, 0.1, 'adam', 0.5, 'completed'],
      [1, 0.2, 'sgd', 0.6, 'completed'],
      [2, 0.3, 'sgd', 0.7, 'pruned'],
      [3, 0.4, 'adam', 0.8, 'completed'],
    ];
    for (const [i, lr, opt, value, state] of finished) {
      await store.putTrial(
        t(i, {
          params: { lr, opt },
          state,
          bestValue: value,
          lastValue: value,
          endedAt: [40, 10, 30, 20][i] ?? 0,
        }),
      );
    }
    await store.putTrial(
      t(4, { params: { lr: 0.9, opt: 'sgd' }, state: 'running', bestValue: 0.1 }),
    );
    await store.putTrial(t(5, { params: { lr: 0.5, opt: 'adam' }, state: 'queued' }));
    await store.putTrial(fixtureTrial({ id: 'lone', sweepId: null, createdAt: 5 }));

    await store.addEpoch('s1-t0', fixtureEpoch(1, 0.6), sweep.metric);
    await store.addEpoch('s1-t0', fixtureEpoch(2, 0.5), sweep.metric);
    await store.addEvent('s1-t0', { at: 1, type: 'started', message: 'rank 0 on w1' });
    await store.addSweepEvent('s1', { at: 1, type: 'queued', message: 'created' });
    const points = Array.from({ length: 3000 }, (_, i) => ({
      name: 'train/loss',
      step: i,
      value: i === 1500 ? 99 : 1 / (i + 1),
      at: i,
    }));
    await store.appendPoints('s1-t0', points);
    await store.appendPoints('s1-t0', [{ name: 'lr/main', step: 0, value: 1e-4, at: 0 }]);
    await checkpoints.put('s1-t0', 'last', checkpointBytes, 2);
    const worker: WorkerSnapshot = {
      id: 'w1',
      name: 'gpu-0',
      state: 'training',
      backend: 'webgpu',
      device: 'GPU (WebGPU/Vulkan): NVIDIA H200',
      adapter: H200_ADAPTER,
      version: '0.1.0',
      trialId: 's1-t4',
      rank: 0,
      step: 10,
      stepTimeMs: 120,
      samplesPerSecond: 500,
      lastHeartbeat: 1,
      registeredAt: 1,
    };
    const cpuWorker: WorkerSnapshot = {
      ...worker,
      id: 'w2',
      name: 'cpu-0',
      state: 'idle',
      backend: 'wasm',
      device: 'CPU (wasm, SIMD, 1 thread)',
      adapter: null,
      trialId: null,
      rank: null,
    };
    await store.putWorkers([worker, cpuWorker]);

    staticRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-static-'));
    fs.mkdirSync(path.join(staticRoot, 'site', 'assets'), { recursive: true });
    fs.writeFileSync(
      path.join(staticRoot, 'site', 'index.html'),
      '<!doctype html><title>MMIM</title>',
    );
    fs.writeFileSync(path.join(staticRoot, 'site', 'assets', 'app.js'), 'console.log(1);');
    fs.writeFileSync(path.join(staticRoot, 'site', '.env'), 'SECRET=1');
    fs.writeFileSync(path.join(staticRoot, 'secret.txt'), 'outside the static dir');
    fs.symlinkSync(path.join(staticRoot, 'secret.txt'), path.join(staticRoot, 'site', 'link.txt'));

    server = createHttpServer({
      store,
      checkpoints,
      control: new StoreSweepControl(store),
      adminToken: ADMIN,
      readTokenRequired: false,
      staticDir: path.join(staticRoot, 'site'),
      metrics,
      log: createLogger('http-test'),
      ssePingMs: 200,
    });
    base = (await server.listen('127.0.0.1', 0)).url;
    assert.equal(server.url, base);
  });

  after(async () => {
    await server.close();
    await server.close(); // twice is harmless
    client.disconnect();
    await redis.stop();
    fs.rmSync(staticRoot, { recursive: true, force: true });
  });

  it('serves only the names it is served on (DNS rebinding: Host and Origin checked)', async () => {
    const port = new URL(base).port;
    const rebound = await request(base, 'GET', '/api/sweeps', {
      headers: { host: 'evil.example' },
    });
    assert.equal(rebound.status, 421);
    assert.match(
      String((rebound.json as { error: string }).error),
      /Host "evil\.example" is not served here/,
    );
    assert.doesNotMatch(rebound.text, /lr sweep/, 'no data in the refusal');
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
      assert.equal(
        (await request(base, 'GET', '/api/sweeps', { headers: { host } })).status,
        200,
        host,
      );
    }
    assert.equal(
      (
        await request(base, 'GET', '/api/health', {
          headers: { host: `localhost:${Number(port) + 1}` },
        })
      ).status,
      421,
      'another port is another origin',
    );
    const crossOrigin = await request(base, 'GET', '/api/sweeps', {
      headers: { origin: 'http://evil.example' },
    });
    assert.equal(crossOrigin.status, 403);
    const sameOrigin = await request(base, 'GET', '/api/sweeps', {
      headers: { origin: `http://127.0.0.1:${port}` },
    });
    assert.equal(sameOrigin.status, 200);
    // A proxy's hostname, allowed by name (any port) on another server.
    const proxied = createHttpServer({
      store,
      checkpoints,
      control: new StoreSweepControl(store),
      adminToken: ADMIN,
      readTokenRequired: false,
      staticDir: null,
      metrics: new CoordinatorMetrics({ defaultMetrics: false }),
      log: createLogger('http-test'),
      allowedHosts: ['dash.example'],
    });
    const other = (await proxied.listen('127.0.0.1', 0)).url;
    try {
      for (const host of ['dash.example', 'dash.example:8443'])
        assert.equal(
          (await request(other, 'GET', '/api/health', { headers: { host } })).status,
          200,
        );
      assert.equal(
        (await request(other, 'GET', '/api/health', { headers: { host: 'other.example' } })).status,
        421,
      );
    } finally {
      await proxied.close();
    }
  });

  it('answers health with the version', async () => {
    const a = await request(base, 'GET', '/api/health');
    assert.equal(a.status, 200);
    const pkg = JSON.parse(
      fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    assert.deepEqual(a.json, { ok: true, version: pkg.version });
  });

  it('serves the metric table the dashboard builds its columns from', async () => {
    const a = await request(base, 'GET', '/api/metrics');
    assert.equal(a.status, 200);
    const { metrics } = a.json as { metrics: { key: string; label: string; format: string }[] };
    assert.deepEqual(
      metrics.map((m) => m.key),
      [...METRIC_KEYS],
    );
    assert.equal(metrics.find((m) => m.key === 'acc2')?.format, 'percent');
  });

  it('lists sweeps newest first with counts, and one sweep', async () => {
    const list = await request(base, 'GET', '/api/sweeps');
    const sweeps = (list.json as { sweeps: (SweepRecord & { counts: Record<string, number> })[] })
      .sweeps;
    assert.deepEqual(
      sweeps.map((s) => s.id),
      ['s1', 's0'],
    );
    assert.deepEqual(sweeps[0]?.counts, {
      queued: 1,
      running: 1,
      completed: 3,
      pruned: 1,
      failed: 0,
      cancelled: 0,
    });
    const one = await request(base, 'GET', '/api/sweeps/s1');
    const body = one.json as { sweep: SweepRecord; counts: { completed: number } };
    assert.equal(body.sweep.name, 'lr sweep');
    assert.equal(body.counts.completed, 3);
  });

  it('answers 404 naming an unknown or malformed id', async () => {
    for (const p of [
      '/api/sweeps/nope',
      '/api/sweeps/nope/trials',
      '/api/sweeps/nope/best-history',
      '/api/sweeps/nope/importance',
      '/api/sweeps/nope/parallel',
      '/api/sweeps/nope/events',
    ]) {
      const a = await request(base, 'GET', p);
      assert.equal(a.status, 404, p);
      assert.match(errorOf(a), /unknown sweep "nope"/, p);
    }
    for (const p of [
      '/api/trials/ghost',
      '/api/trials/ghost/curves',
      '/api/trials/ghost/checkpoint',
    ]) {
      const a = await request(base, 'GET', p);
      assert.equal(a.status, 404, p);
      assert.match(errorOf(a), /unknown trial "ghost"/, p);
    }
    const braces = await request(base, 'GET', '/api/trials/%7Bx%7D');
    assert.equal(braces.status, 404);
    assert.match(errorOf(braces), /unknown trial "\{x\}"/);
    const noRoute = await request(base, 'GET', '/api/nothing-here');
    assert.equal(noRoute.status, 404);
    assert.match(errorOf(noRoute), /no route GET \/api\/nothing-here/);
  });

  it('lists a sweep’s trials sorted, filtered, searched and paged', async () => {
    const ids = async (q: string): Promise<string[]> => {
      const a = await request(base, 'GET', `/api/sweeps/s1/trials${q}`);
      assert.equal(a.status, 200, `${q}: ${a.text}`);
      return (a.json as { trials: TrialRecord[] }).trials.map((x) => x.id);
    };
    assert.deepEqual(await ids(''), ['s1-t0', 's1-t1', 's1-t2', 's1-t3', 's1-t4', 's1-t5']);
    assert.deepEqual(await ids('?sort=bestValue&order=desc&limit=3'), ['s1-t3', 's1-t2', 's1-t1']);
    assert.deepEqual(await ids('?sort=param:lr&order=desc&limit=2'), ['s1-t4', 's1-t5']);
    assert.deepEqual(await ids('?state=pruned,running'), ['s1-t2', 's1-t4']);
    assert.deepEqual(await ids('?q=ADAM&offset=1'), ['s1-t3', 's1-t5']);
    const paged = await request(base, 'GET', '/api/sweeps/s1/trials?offset=4&limit=1');
    assert.equal((paged.json as { total: number }).total, 6);
  });

  it('answers 400 naming a bad query parameter', async () => {
    const cases: [string, RegExp][] = [
      ['/api/sweeps/s1/trials?limit=5000', /limit must be between 0 and 1000, got 5000/],
      ['/api/sweeps/s1/trials?limit=ten', /limit must be an integer, got "ten"/],
      ['/api/sweeps/s1/trials?offset=-1', /offset must be between/],
      ['/api/sweeps/s1/trials?sort=colour', /sort: unknown sort key "colour"/],
      ['/api/sweeps/s1/trials?order=up', /order must be asc or desc, got "up"/],
      ['/api/sweeps/s1/trials?state=done', /state: unknown trial state "done"/],
      ['/api/sweeps/s1/trials?limit=1&limit=2', /limit must be given once/],
      ['/api/trials?limit=1001', /limit must be between 0 and 1000/],
      ['/api/trials/s1-t0/curves?maxPoints=1', /maxPoints must be between 2 and 5000, got 1/],
      ['/api/trials/s1-t0/curves?maxPoints=6000', /maxPoints must be between 2 and 5000/],
      ['/api/trials/s1-t0/curves?names=train/loss&after=abc', /after: bad cursor "abc"/],
      ['/api/trials/s1-t0/curves?after=1', /after needs names, and one cursor for all/],
      [
        '/api/trials/s1-t0/curves?names=lr/main,train/loss&after=1,2,3',
        /one cursor for all of them or one per name/,
      ],
      ['/api/trials/s1-t0/checkpoint?kind=worst', /kind must be last or best, got "worst"/],
    ];
    for (const [p, re] of cases) {
      const a = await request(base, 'GET', p);
      assert.equal(a.status, 400, `${p}: ${a.text}`);
      assert.match(errorOf(a), re, p);
    }
  });

  it('derives best-history, importance and parallel rows from the trials', async () => {
    const hist = await request(base, 'GET', '/api/sweeps/s1/best-history');
    // ended in order t1 (0.6, at 10), t3 (0.8, at 20), t2 (0.7, at 30), t0 (0.5, at 40)
    assert.deepEqual((hist.json as { points: unknown }).points, [
      { at: 10, value: 0.6, trialId: 's1-t1' },
      { at: 40, value: 0.5, trialId: 's1-t0' },
    ]);

    const imp = await request(base, 'GET', '/api/sweeps/s1/importance');
    const body = imp.json as {
      method: string;
      params: { name: string; importance: number; correlation: number; n: number }[];
    };
    assert.equal(body.method, 'spearman');
    assert.equal(body.params[0]?.name, 'lr', 'lr matters most');
    assert.ok(Math.abs((body.params[0]?.correlation ?? 0) - 1) < 1e-12, 'perfect rank correlation');
    assert.equal(body.params[0]?.n, 4, 'finished trials only');
    const sum = body.params.reduce((s, p) => s + p.importance, 0);
    assert.ok(Math.abs(sum - 1) < 1e-12, `importances sum to 1, got ${sum}`);

    const par = await request(base, 'GET', '/api/sweeps/s1/parallel');
    const rows = par.json as {
      params: string[];
      metric: string;
      rows: { trialId: string; values: unknown[]; value: number }[];
    };
    assert.deepEqual(rows.params, ['lr', 'opt']);
    assert.equal(rows.metric, 'valid.mae');
    assert.equal(rows.rows.length, 5, 'every trial with a value, the running one included');
    assert.deepEqual(
      rows.rows.find((r) => r.trialId === 's1-t4'),
      { trialId: 's1-t4', state: 'running', values: [0.9, 'sgd'], value: 0.1 },
    );

    const events = await request(base, 'GET', '/api/sweeps/s1/events');
    assert.deepEqual(events.json, { events: [{ at: 1, type: 'queued', message: 'created' }] });
  });

  it('refuses unauthorised actions and leaves the sweep as it was', async () => {
    await store.putSweep(fixtureSweep({ id: 'act', createdAt: 0 }));
    for (const token of [undefined, 'wrong', `${ADMIN}x`, ADMIN.slice(0, -1)]) {
      const a = await request(
        base,
        'POST',
        '/api/sweeps/act/pause',
        token === undefined ? {} : { token },
      );
      assert.equal(a.status, 401, `token ${token}`);
      assert.match(errorOf(a), /admin token/);
    }
    const sneaky = await request(base, 'POST', '/api/sweeps/act/pause?token=' + ADMIN);
    assert.equal(sneaky.status, 401, 'the query token is for reads only');
    assert.equal((await store.getSweep('act'))?.state, 'running');
    const del = await request(base, 'DELETE', '/api/sweeps/act');
    assert.equal(del.status, 401, 'other methods need the token too');
  });

  it('pauses, resumes and cancels with the token; 409 on an invalid transition, 404 naming unknown', async () => {
    await store.putSweep(fixtureSweep({ id: 'ctl', createdAt: 0 }));
    const post = (action: string, id = 'ctl'): Promise<Answer> =>
      request(base, 'POST', `/api/sweeps/${id}/${action}`, { token: ADMIN });
    const paused = await post('pause');
    assert.equal(paused.status, 202);
    assert.equal((paused.json as { sweep: SweepRecord }).sweep.state, 'paused');
    assert.equal((await store.getSweep('ctl'))?.state, 'paused');
    const again = await post('pause');
    assert.equal(again.status, 409);
    assert.match(errorOf(again), /cannot pause sweep "ctl": it is paused/);
    assert.equal((await post('resume')).status, 202);
    assert.equal((await store.getSweep('ctl'))?.state, 'running');
    assert.equal((await post('cancel')).status, 202);
    const resumeCancelled = await post('resume');
    assert.equal(resumeCancelled.status, 409);
    assert.equal((await store.getSweep('ctl'))?.state, 'cancelled');
    const unknown = await post('pause', 'missing-sweep');
    assert.equal(unknown.status, 404);
    assert.match(errorOf(unknown), /"missing-sweep"/);
  });

  it('creates sweeps and lone trials with the token only', async () => {
    const noToken = await request(base, 'POST', '/api/sweeps', { body: { yaml: 'name: x' } });
    assert.equal(noToken.status, 401);
    const empty = await request(base, 'POST', '/api/sweeps', { token: ADMIN, body: {} });
    assert.equal(empty.status, 400);
    assert.match(errorOf(empty), /body field yaml/);
    const invalid = await request(base, 'POST', '/api/sweeps', {
      token: ADMIN,
      body: { yaml: 'method: grid' },
    });
    assert.equal(invalid.status, 400);
    assert.match(errorOf(invalid), /name: is required/);
    const made = await request(base, 'POST', '/api/sweeps', {
      token: ADMIN,
      body: { yaml: 'name: fresh\n' },
    });
    assert.equal(made.status, 201);
    const id = (made.json as { sweep: SweepRecord }).sweep.id;
    assert.equal((await store.getSweep(id))?.name, 'fresh');

    const synthetic = { kind: 'synthetic', dataset: 'mosi', train: 8 };
    const badSeed = await request(base, 'POST', '/api/trials', {
      token: ADMIN,
      body: { data: synthetic, trainer: {}, seed: 1.5, workers: 1 },
    });
    assert.equal(badSeed.status, 400);
    assert.match(errorOf(badSeed), /body field seed: .*expected int/i);
    const trial = await request(base, 'POST', '/api/trials', {
      token: ADMIN,
      body: { data: synthetic, trainer: { num_epochs: 1 }, seed: 3, workers: 2, name: 'solo' },
    });
    assert.equal(trial.status, 201, trial.text);
    const rec = (trial.json as { trial: TrialRecord }).trial;
    assert.equal((await store.getTrial(rec.id))?.workersPerTrial, 2);
  });

  it('cancels a lone trial with DELETE and the token only; 404 unknown, 409 ended or a sweep’s', async () => {
    const made = await request(base, 'POST', '/api/trials', {
      token: ADMIN,
      body: { data: { kind: 'synthetic', dataset: 'mosi' }, trainer: {}, seed: 1, workers: 1 },
    });
    assert.equal(made.status, 201, made.text);
    const id = (made.json as { trial: TrialRecord }).trial.id;
    const noToken = await request(base, 'DELETE', `/api/trials/${id}`);
    assert.equal(noToken.status, 401);
    assert.equal((await store.getTrial(id))?.state, 'queued');
    const done = await request(base, 'DELETE', `/api/trials/${id}`, { token: ADMIN });
    assert.equal(done.status, 202);
    assert.equal((done.json as { trial: TrialRecord }).trial.state, 'cancelled');
    assert.equal((await store.getTrial(id))?.state, 'cancelled');
    const again = await request(base, 'DELETE', `/api/trials/${id}`, { token: ADMIN });
    assert.equal(again.status, 409);
    const sweepTrial = await request(base, 'DELETE', '/api/trials/s1-t5', { token: ADMIN });
    assert.equal(sweepTrial.status, 409);
    const unknown = await request(base, 'DELETE', '/api/trials/nope', { token: ADMIN });
    assert.equal(unknown.status, 404);
    assert.match(errorOf(unknown), /unknown trial "nope"/);
  });

  it('deletes an ended sweep and its trials with DELETE and the token only; 409 while it or a trial runs', async () => {
    await store.putSweep(fixtureSweep({ id: 'del', createdAt: 0 }));
    await store.putTrial(fixtureTrial({ id: 'del-t0', sweepId: 'del', state: 'completed' }));
    await store.putTrial(fixtureTrial({ id: 'del-t1', sweepId: 'del', state: 'running' }));
    const del = (id = 'del'): Promise<Answer> =>
      request(base, 'DELETE', `/api/sweeps/${id}`, { token: ADMIN });
    assert.equal((await request(base, 'DELETE', '/api/sweeps/del')).status, 401);
    const running = await del();
    assert.equal(running.status, 409);
    assert.match(
      errorOf(running),
      /sweep del is running: cancel it first \(mmim sweep cancel del\)/,
    );
    await store.updateSweep('del', { state: 'cancelled' });
    const stopping = await del();
    assert.equal(stopping.status, 409);
    assert.match(errorOf(stopping), /1 trial\(s\) that have not ended yet \(del-t1 is running\)/);
    await store.updateTrial('del-t1', { state: 'cancelled' });
    const done = await del();
    assert.equal(done.status, 200, done.text);
    assert.deepEqual((done.json as { deleted: unknown }).deleted, {
      sweepId: 'del',
      trials: 2,
      checkpoints: 0,
      freedBytes: 0,
    });
    assert.equal((await request(base, 'GET', '/api/sweeps/del', { token: ADMIN })).status, 404);
    assert.equal(await store.getTrial('del-t0'), null);
    const again = await del();
    assert.equal(again.status, 404);
    assert.match(errorOf(again), /"del"/);
  });

  it('refuses a lone trial the worker would refuse, naming each field (400, nothing queued)', async () => {
    // Each body was queued (201) before, then failed on every attempt on the workers.
    const good = { data: { kind: 'synthetic', dataset: 'mosi' }, trainer: {}, seed: 1, workers: 1 };
    const cases: [Record<string, unknown>, RegExp[]][] = [
      [{ ...good, data: {} }, [/body field data\.kind: /]],
      [{ ...good, trainer: { num_epochs: -1 } }, [/body field trainer\.num_epochs: .*>0/]],
      [
        { ...good, data: { kind: 'file', path: '' }, trainer: { lr_main: 'fast', nope: 1 } },
        [/body field data\.path: /, /body field trainer\.lr_main: /, /trainer\.nope: unknown key/],
      ],
      [{ ...good, trainer: { preset: 'imdb' } }, [/body field trainer: unknown preset 'imdb'/]],
      [{ ...good, bert: { hidden_size: 0 } }, [/body field bert\.hidden_size: /]],
      [{ ...good, start: { resume: '' } }, [/body field start\.resume: /]],
      [{ ...good, seed: -1, workers: 0 }, [/body field workers: /, /body field seed: /]],
      [{ ...good, extra: true, attempt: 2 }, [/body field extra: unknown key/, /attempt: unknown/]],
    ];
    const before = (await store.listTrials(null, { limit: 1000 })).total;
    for (const [body, patterns] of cases) {
      const answer = await request(base, 'POST', '/api/trials', { token: ADMIN, body });
      assert.equal(answer.status, 400, `${JSON.stringify(body)}: ${answer.text}`);
      for (const p of patterns) assert.match(errorOf(answer), p, JSON.stringify(body));
    }
    assert.equal((await store.listTrials(null, { limit: 1000 })).total, before);
  });

  it('lists every trial and shows one with epochs, events and checkpoint info', async () => {
    const all = await request(base, 'GET', '/api/trials?limit=1000');
    const list = all.json as { total: number; trials: TrialRecord[] };
    assert.ok(
      list.trials.some((x) => x.id === 'lone'),
      'lone trials included',
    );
    assert.equal(list.total, list.trials.length);
    const one = await request(base, 'GET', '/api/trials/s1-t0');
    const body = one.json as {
      trial: TrialRecord;
      epochs: { epoch: number }[];
      events: { type: string }[];
      checkpoint: { last: { epoch: number; bytes: number } | null; best: unknown };
    };
    assert.equal(body.trial.epochs, 2);
    assert.deepEqual(
      body.epochs.map((e) => e.epoch),
      [1, 2],
    );
    assert.deepEqual(
      body.events.map((e) => e.type),
      ['started'],
    );
    assert.equal(body.checkpoint.last?.epoch, 2);
    assert.equal(body.checkpoint.last?.bytes, checkpointBytes.length);
    assert.equal(body.checkpoint.best, null);
  });

  it('serves curves downsampled, by name, and only newer points after a cursor', async () => {
    const all = await request(base, 'GET', '/api/trials/s1-t0/curves');
    const curves = (all.json as { curves: Curve[] }).curves;
    assert.deepEqual(
      curves.map((c) => [c.name, c.total]),
      [
        ['lr/main', 1],
        ['train/loss', 3000],
      ],
    );
    assert.ok((curves[1]?.points.length ?? 0) <= 1000);
    const small = await request(
      base,
      'GET',
      '/api/trials/s1-t0/curves?names=train/loss&maxPoints=50',
    );
    const loss = (small.json as { curves: Curve[] }).curves[0] as Curve;
    assert.ok(loss.points.length <= 50 && loss.points.length > 10);
    assert.ok(
      loss.points.some((p) => p.value === 99),
      'the spike survives downsampling',
    );
    assert.equal(loss.points.at(-1)?.step, 2999);

    const unknown = await request(base, 'GET', '/api/trials/s1-t0/curves?names=train/nce');
    assert.equal(unknown.status, 404);
    assert.match(errorOf(unknown), /trial "s1-t0" has no curve "train\/nce"/);

    await store.appendPoints('s1-t0', [
      { name: 'train/loss', step: 3000, value: 0.01, at: 1 },
      { name: 'lr/main', step: 1, value: 2e-4, at: 1 },
    ]);
    const q = `names=train/loss,lr/main&after=${encodeURIComponent(`${loss.cursor},${curves[0]?.cursor}`)}`;
    const newer = await request(base, 'GET', `/api/trials/s1-t0/curves?${q}`);
    assert.equal(newer.status, 200, newer.text);
    const fresh = (newer.json as { curves: Curve[] }).curves;
    assert.deepEqual(
      fresh.map((c) => c.points.map((p) => p.step)),
      [[3000], [1]],
    );
    // One cursor for several names (what the dashboard sends for curves with equal cursors).
    const shared = await request(
      base,
      'GET',
      `/api/trials/s1-t0/curves?names=train/loss,lr/main&maxPoints=5000&after=${fresh[1]?.cursor}`,
    );
    assert.equal(shared.status, 200, shared.text);
    assert.deepEqual(
      (shared.json as { curves: Curve[] }).curves.map((c) => c.points.length),
      [3001 - Number(fresh[1]?.cursor), 0],
    );
  });

  it('downloads a checkpoint byte for byte as an attachment', async () => {
    const a = await request(base, 'GET', '/api/trials/s1-t0/checkpoint?kind=last');
    assert.equal(a.status, 200);
    assert.deepEqual(new Uint8Array(a.body), checkpointBytes);
    assert.match(
      String(a.headers['content-disposition']),
      /^attachment; filename="trial-s1-t0-last-epoch2\.safetensors"$/,
    );
    assert.equal(a.headers['content-type'], 'application/octet-stream');
    const best = await request(base, 'GET', '/api/trials/s1-t0/checkpoint?kind=best');
    assert.equal(best.status, 404);
    assert.match(errorOf(best), /trial "s1-t0" has no best checkpoint/);
  });

  it('lists workers by name, with the GPU adapter of a webgpu worker and null for the rest', async () => {
    const a = await request(base, 'GET', '/api/workers');
    const workers = (a.json as { workers: WorkerSnapshot[] }).workers;
    assert.deepEqual(
      workers.map((w) => [w.name, w.backend, w.trialId]),
      [
        ['cpu-0', 'wasm', null],
        ['gpu-0', 'webgpu', 's1-t4'],
      ],
    );
    assert.equal(workers[0]?.adapter, null);
    assert.deepEqual(workers[1]?.adapter, H200_ADAPTER);
  });

  it('streams a change after a write, pings, and keeps streaming to others after a client left', async () => {
    const stream = await openEvents(base);
    assert.equal(stream.res.headers['content-type'], 'text/event-stream; charset=utf-8');
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) {
      assert.equal(stream.res.headers[k.toLowerCase()], v, k);
    }
    await store.updateTrial('s1-t5', { state: 'running' });
    await waitFor(() => stream.text().includes('"trialId":"s1-t5"'), 'the change event');
    const block = stream
      .text()
      .split('\n\n')
      .find((b) => b.includes('s1-t5'));
    assert.ok(block !== undefined && block.startsWith('event: change\ndata: '), block);
    const event = JSON.parse(block.slice('event: change\ndata: '.length)) as ChangeEvent;
    assert.deepEqual(event, { kind: 'trial', trialId: 's1-t5', sweepId: 's1' });
    await waitFor(() => stream.text().includes(': ping'), 'a ping comment');
    stream.close();
    // A second client still gets changes after the first left.
    const second = await openEvents(base);
    await store.putWorkers([]);
    await waitFor(() => second.text().includes('"kind":"workers"'), 'workers change');
    second.close();
  });

  it('sets the security headers on every kind of answer and never a CORS header', async () => {
    const answers = [
      await request(base, 'GET', '/api/sweeps', { headers: { origin: 'https://evil.example' } }),
      await request(base, 'GET', '/api/sweeps/nope'),
      await request(base, 'GET', '/api/trials?limit=x'),
      await request(base, 'POST', '/api/sweeps/s1/pause'),
      await request(base, 'OPTIONS', '/api/sweeps', {
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
      }),
      await request(base, 'GET', '/metrics'),
      await request(base, 'GET', '/'),
      await request(base, 'GET', '/missing.js'),
      await request(base, 'GET', '/%E0%A4%A'),
      await request(base, 'POST', '/api/sweeps', {
        token: ADMIN,
        headers: { 'content-type': 'application/json' },
      }),
    ];
    for (const a of answers) {
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) {
        assert.equal(a.headers[k.toLowerCase()], v, `${k} on a ${a.status}`);
      }
      assert.ok(
        !Object.keys(a.headers).some((h) => h.startsWith('access-control-')),
        `no CORS header on a ${a.status}`,
      );
    }
  });

  it('exposes the Prometheus metrics', async () => {
    metrics.setQueueDepth(7);
    metrics.setWorkerCounts({ idle: 2, training: 1 });
    metrics.setTrialCounts({ running: 3 });
    metrics.observeStepSeconds(0.2);
    metrics.addParamServerBytes(1024);
    metrics.observeParamServerSeconds(0.01);
    await request(base, 'GET', '/api/sweeps/s1');
    const a = await request(base, 'GET', '/metrics');
    assert.equal(a.status, 200);
    assert.match(String(a.headers['content-type']), /^text\/plain/);
    for (const name of METRIC_NAMES) assert.ok(a.text.includes(`# TYPE ${name} `), name);
    assert.match(a.text, /^mmim_queue_depth 7$/m);
    assert.match(a.text, /^mmim_workers\{state="idle"\} 2$/m);
    assert.match(a.text, /^mmim_workers\{state="lost"\} 0$/m);
    assert.match(a.text, /^mmim_trials\{state="running"\} 3$/m);
    assert.match(a.text, /^mmim_param_server_bytes_total 1024$/m);
    assert.match(
      a.text,
      /mmim_http_request_seconds_count\{route="\/api\/sweeps\/:id",status="200"\} [1-9]/,
    );
    assert.match(a.text, /^process_cpu_user_seconds_total /m, 'default process metrics');
  });

  it('serves the dashboard files and nothing outside them', async () => {
    const index = await request(base, 'GET', '/');
    assert.equal(index.status, 200);
    assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(index.text, /<title>MMIM<\/title>/);
    const js = await request(base, 'GET', '/assets/app.js');
    assert.equal(js.status, 200);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(js.text, 'console.log(1);');
    for (const p of [
      '/../package.json',
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/%2e%2e%2fsecret.txt',
      '/assets/..%5c..%5csecret.txt',
      '/.env',
      '/link.txt',
      '/%00index.html',
      '/%E0%A4%A',
    ]) {
      const a = await request(base, 'GET', p);
      assert.ok(a.status === 404 || a.status === 400, `${p} answered ${a.status}`);
      assert.ok(!a.text.includes('outside the static dir') && !a.text.includes('SECRET'), p);
      assert.ok(!a.text.includes('"name"'), `${p} leaked a package.json`);
    }
  });

  it('never shows the Redis URL or a join token in any answer', () => {
    const secrets = [`redis://127.0.0.1:${redis.port}`, `127.0.0.1:${redis.port}`, JOIN_TOKEN];
    assert.ok(seen.length > 50, `checked ${seen.length} answers`);
    for (const a of seen) {
      const all = `${JSON.stringify(a.headers)}\n${a.text}`;
      for (const s of secrets) assert.ok(!all.includes(s), `an answer contains ${s}`);
    }
  });
});

describe('dashboard HTTP API in read-token mode', () => {
  let redis: RedisServerHandle;
  let client: Redis;
  let server: HttpServerHandle;
  let base: string;

  before(async () => {
    redis = await startRedisServer();
    client = redis.client();
    const store = new ExperimentStore(client);
    await store.putSweep(fixtureSweep({ id: 'r1' }));
    server = createHttpServer({
      store,
      checkpoints: new CheckpointStore(client),
      control: new StoreSweepControl(store),
      adminToken: ADMIN,
      readTokenRequired: true,
      staticDir: null,
      metrics: new CoordinatorMetrics({ defaultMetrics: false }),
      log: createLogger('http-test'),
    });
    base = (await server.listen('127.0.0.1', 0)).url;
  });

  after(async () => {
    await server.close();
    client.disconnect();
    await redis.stop();
  });

  it('needs the token for reads, by header or query, but not for health', async () => {
    for (const p of ['/api/sweeps', '/api/sweeps/r1', '/api/workers', '/metrics', '/api/events']) {
      const a = await request(base, 'GET', p);
      assert.equal(a.status, 401, p);
      assert.match(errorOf(a), /needs the token/);
    }
    assert.equal((await request(base, 'GET', '/api/sweeps', { token: 'nope' })).status, 401);
    assert.equal((await request(base, 'GET', '/api/sweeps', { token: ADMIN })).status, 200);
    assert.equal((await request(base, 'GET', `/api/sweeps?token=${ADMIN}`)).status, 200);
    assert.equal((await request(base, 'GET', '/metrics', { token: ADMIN })).status, 200);
    assert.equal((await request(base, 'GET', '/api/health')).status, 200);
    const stream = await openEvents(base, `?token=${ADMIN}`);
    stream.close();
  });

  it('answers 404 for static files when no dashboard dir is configured', async () => {
    const a = await request(base, 'GET', '/');
    assert.equal(a.status, 404);
  });

  it('ends open event streams when the server closes', async () => {
    const stream = await openEvents(base, `?token=${ADMIN}`);
    const ended = new Promise<void>((resolve) => stream.res.on('end', () => resolve()));
    const started = Date.now();
    await server.close();
    await ended;
    assert.ok(Date.now() - started < 3000, 'close does not wait for the client to leave');
  });
});
