/**
 * bench/dashboard: how fast the dashboard API answers the sweep page with 1000 trials, and how
 * small a 100k-point curve gets on the wire. Starts a redis-server, fills it through
 * ExperimentStore (one sweep of N trials with a few epochs each, one trial with a long curve),
 * runs the read-only dashboard server (apps/coordinator/src/http/serve.ts) as its own process
 * and times real HTTP requests over loopback (keep-alive, one at a time).
 *
 *   npm run bench:dashboard -- [--trials 1000] [--epochs 4] [--points 100000] [--requests 200]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ExperimentStore, type Curve, type TrialState } from '@mmim/experiments';
import { fixtureEpoch, fixtureSweep, fixtureTrial } from '@mmim/experiments/testing';
import { startRedisServer } from '@mmim/param-server/testing';

const { values: args } = parseArgs({
  options: {
    trials: { type: 'string', default: '1000' },
    epochs: { type: 'string', default: '4' },
    points: { type: 'string', default: '100000' },
    requests: { type: 'string', default: '200' },
  },
});
const TRIALS = Number(args.trials);
const EPOCHS = Number(args.epochs);
const POINTS = Number(args.points);
const REQUESTS = Number(args.requests);
const serveScript = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../apps/coordinator/src/http/serve.ts',
);

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

async function fill(store: ExperimentStore): Promise<{ sweepId: string; curveTrial: string }> {
  const sweepId = 'bench-sweep';
  const sweep = fixtureSweep({
    id: sweepId,
    name: 'bench',
    runCap: TRIALS,
    spec: {
      parameters: {
        lr: { min: 1e-5, max: 1e-3 },
        dropout: { min: 0, max: 0.5 },
        opt: { values: ['adam', 'adamw', 'sgd'] },
        layers: { values: [1, 2, 3] },
      },
    },
  });
  await store.putSweep(sweep);
  const states: TrialState[] = ['completed', 'completed', 'pruned', 'running', 'queued', 'failed'];
  const t0 = Date.now();
  for (let i = 0; i < TRIALS; i++) {
    const id = `bench-t${i}`;
    const state = states[i % states.length] ?? 'completed';
    await store.putTrial(
      fixtureTrial({
        id,
        sweepId,
        number: i,
        configKey: `cfg-${i}`,
        createdAt: t0 + i,
        state,
        params: {
          lr: 1e-5 + ((i * 7919) % 1000) * 1e-6,
          dropout: ((i * 31) % 50) / 100,
          opt: ['adam', 'adamw', 'sgd'][i % 3],
          layers: 1 + (i % 3),
        },
        placement: [{ rank: 0, workerId: `w${i % 8}`, workerName: `gpu-${i % 8}` }],
        endedAt: state === 'completed' || state === 'pruned' ? t0 + 10_000 + i : null,
      }),
    );
    if (state === 'queued') continue;
    for (let e = 1; e <= EPOCHS; e++) {
      await store.addEpoch(id, fixtureEpoch(e, 1 / e + ((i * 13) % 100) / 200), sweep.metric);
    }
  }
  const curveTrial = 'bench-t0';
  const batch = 10_000;
  for (let s = 0; s < POINTS; s += batch) {
    const pts = [];
    for (let i = s; i < Math.min(POINTS, s + batch); i++) {
      pts.push({
        name: 'train/loss',
        step: i,
        value: Math.exp(-i / 20_000) + 0.05 * Math.sin(i),
        at: t0 + i,
      });
    }
    await store.appendPoints(curveTrial, pts);
  }
  return { sweepId, curveTrial };
}

function startServer(port: number): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', serveScript, '--redis-url', `redis://127.0.0.1:${port}`, '--port', '0'],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, MMIM_LOG_LEVEL: 'warn' } },
  );
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      const msg = JSON.parse(line) as { event?: string; url?: string };
      if (msg.event === 'listening' && msg.url !== undefined) resolve({ child, url: msg.url });
    });
    child.once('exit', (code) => reject(new Error(`dashboard server exited with ${code}`)));
  });
}

interface Timing {
  p50: number;
  p99: number;
  bytes: number;
}

async function time(url: string, n: number): Promise<Timing> {
  for (let i = 0; i < Math.min(10, n); i++) await (await fetch(url)).arrayBuffer(); // warm-up
  const ms: number[] = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    const res = await fetch(url);
    const body = await res.arrayBuffer();
    ms.push(performance.now() - start);
    if (!res.ok) throw new Error(`${url}: ${res.status} ${Buffer.from(body).toString()}`);
    bytes = body.byteLength;
  }
  ms.sort((a, b) => a - b);
  return { p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), bytes };
}

async function main(): Promise<void> {
  const redis = await startRedisServer();
  const client = redis.client();
  let server: ChildProcess | null = null;
  try {
    const store = new ExperimentStore(client);
    const fillStart = performance.now();
    const { sweepId, curveTrial } = await fill(store);
    const fillS = (performance.now() - fillStart) / 1000;
    const started = await startServer(redis.port);
    server = started.child;
    const base = started.url;

    const inProcess = performance.now();
    const listed = await store.listTrials(sweepId, { limit: 1000 });
    const storeListMs = performance.now() - inProcess;

    const rows: [string, string, number][] = [
      [
        'GET /api/sweeps/:id/trials?limit=1000',
        `/api/sweeps/${sweepId}/trials?limit=1000`,
        REQUESTS,
      ],
      [
        '  ...&sort=bestValue&state=completed,pruned',
        `/api/sweeps/${sweepId}/trials?limit=1000&sort=bestValue&state=completed,pruned`,
        REQUESTS,
      ],
      ['GET /api/sweeps/:id', `/api/sweeps/${sweepId}`, REQUESTS],
      ['GET /api/sweeps', '/api/sweeps', REQUESTS],
      ['GET /api/sweeps/:id/importance', `/api/sweeps/${sweepId}/importance`, REQUESTS],
      ['GET /api/sweeps/:id/parallel', `/api/sweeps/${sweepId}/parallel`, REQUESTS],
      ['GET /api/sweeps/:id/best-history', `/api/sweeps/${sweepId}/best-history`, REQUESTS],
      ['GET /api/trials/:id (4 epochs)', `/api/trials/bench-t1`, REQUESTS],
      [
        `GET curves, ${POINTS} pts -> maxPoints=1000`,
        `/api/trials/${curveTrial}/curves?names=train/loss&maxPoints=1000`,
        Math.max(10, Math.floor(REQUESTS / 4)),
      ],
    ];
    const results: Record<string, Timing> = {};
    for (const [label, p, n] of rows) results[label] = await time(`${base}${p}`, n);

    const curveRes = await fetch(
      `${base}/api/trials/${curveTrial}/curves?names=train/loss&maxPoints=1000`,
    );
    const curve = ((await curveRes.json()) as { curves: Curve[] }).curves[0] as Curve;
    const raw = await store.curve(curveTrial, 'train/loss', { maxPoints: POINTS });
    const rawBytes = Buffer.byteLength(JSON.stringify({ curves: [raw] }));
    const after = await time(
      `${base}/api/trials/${curveTrial}/curves?names=train/loss&after=${encodeURIComponent(curve.cursor)}`,
      REQUESTS,
    );

    const pad = (s: string, n: number): string => s.padEnd(n);
    console.log(
      `dashboard API bench: ${TRIALS} trials x ${EPOCHS} epochs (queued ones none), one ${POINTS}-point curve; ` +
        `fill ${fillS.toFixed(1)} s; ${REQUESTS} sequential requests per row over loopback`,
    );
    console.log(`${pad('request', 50)} ${pad('p50 ms', 8)} ${pad('p99 ms', 8)} bytes`);
    for (const [label, t] of Object.entries(results)) {
      console.log(
        `${pad(label, 50)} ${pad(t.p50.toFixed(1), 8)} ${pad(t.p99.toFixed(1), 8)} ${t.bytes}`,
      );
    }
    console.log(
      `${pad('GET curves after cursor (no new points)', 50)} ${pad(after.p50.toFixed(1), 8)} ${pad(after.p99.toFixed(1), 8)} ${after.bytes}`,
    );
    console.log(
      `store.listTrials in-process (1000 trials, MGET + JSON.parse + sort): ${storeListMs.toFixed(1)} ms, ${listed.trials.length} trials`,
    );
    console.log(
      `curve payload: ${curve.points.length} of ${curve.total} points, ${results[rows[8]?.[0] ?? '']?.bytes ?? 0} bytes ` +
        `vs ${rawBytes} bytes for all ${raw.points.length} points as JSON ` +
        `(${(rawBytes / (results[rows[8]?.[0] ?? '']?.bytes ?? 1)).toFixed(0)}x smaller)`,
    );
  } finally {
    if (server !== null && server.exitCode === null) {
      const exited = new Promise((r) => server?.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    client.disconnect();
    await redis.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
