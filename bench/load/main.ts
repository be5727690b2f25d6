/**
 * Coordinator load: N simulated workers (default 200), each an in-process gRPC client on its own
 * loopback connection, register with one coordinator running in a child process, heartbeat every
 * lease/3 and stream metrics, for `--seconds` (default 60). Prints heartbeat round-trip p50/p99,
 * Register and health Check latency, metrics ingested per second, and the coordinator's CPU and
 * memory, measured over the steady window (after every worker is up).
 *
 *   npm run bench:load -- [--workers 200] [--seconds 60] [--metrics-rate 20] [--lease-ms 3000] [--json out.json]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SimWorker } from './sim-worker.js';
import { summarize, type Summary } from './stats.js';

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '60' },
    'metrics-rate': { type: 'string', default: '20' },
    'lease-ms': { type: 'string', default: '3000' },
    'ramp-seconds': { type: 'string', default: '5' },
    json: { type: 'string' },
  },
});
const num = (name: string, v: string | undefined): number => {
  const n = Number(v);
  if (!(n > 0)) throw new Error(`--${name} must be a positive number, got ${v}`);
  return n;
};
const workers = num('workers', values.workers);
const seconds = num('seconds', values.seconds);
const metricsRate = num('metrics-rate', values['metrics-rate']);
const leaseMs = num('lease-ms', values['lease-ms']);
const rampSeconds = num('ramp-seconds', values['ramp-seconds']);

interface ChildStats {
  t: number;
  cpuUserUs: number;
  cpuSystemUs: number;
  rss: number;
  heapUsed: number;
  arrayBuffers: number;
  workers: number;
  connected: number;
  heartbeats: number;
  metrics: number;
  lost: number;
  registered: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const mib = (b: number): string => `${(b / 1024 / 1024).toFixed(0)} MiB`;

const token = randomBytes(24).toString('hex');
const child = spawn(
  process.execPath,
  ['--import', 'tsx', fileURLToPath(new URL('./coordinator-process.ts', import.meta.url))],
  {
    env: { ...process.env, MMIM_LOAD_TOKEN: token, MMIM_LOAD_LEASE_MS: String(leaseMs) },
    stdio: ['pipe', 'pipe', 'inherit'],
  },
);
const samples: ChildStats[] = [];
let onReady: (address: string) => void = () => undefined;
const ready = new Promise<string>((r) => (onReady = r));
readline.createInterface({ input: child.stdout }).on('line', (l) => {
  const m = JSON.parse(l) as { ready?: boolean; address?: string } & ChildStats;
  if (m.ready && m.address) onReady(m.address);
  else samples.push(m);
});
const childExit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
const address = await Promise.race([
  ready,
  childExit.then((c) => Promise.reject(new Error(`coordinator exited (${c}) before it was ready`))),
]);

console.log(
  `load: ${workers} workers, ${metricsRate} metrics/s each, lease ${leaseMs} ms (heartbeat every ${(leaseMs / 3).toFixed(0)} ms), ${seconds} s steady, coordinator at ${address} (pid ${child.pid})`,
);
console.log(
  `machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ${mib(os.totalmem())}, load average ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);

// One figures line from the idle coordinator first (its baseline memory).
while (samples.length === 0) await sleep(100);

// Ramp up: workers start evenly over --ramp-seconds (a real cluster does not join in one tick).
const sims: SimWorker[] = [];
const starts: Promise<void>[] = [];
const healthEveryMs = 5000;
for (let i = 0; i < workers; i++) {
  const sim = new SimWorker({
    address,
    token,
    name: `sim-${i}`,
    metricsPerSecond: metricsRate,
    healthEveryMs,
  });
  sims.push(sim);
  starts.push(sim.start());
  await sleep((rampSeconds * 1000) / workers);
}
const startResults = await Promise.allSettled(starts);
const failedStarts = startResults.filter((r) => r.status === 'rejected').length;
await sleep(2000); // let the last workers' streams settle

const idle = samples[0];
const first = samples.at(-1);
if (!first || !idle) throw new Error('no figures from the coordinator yet');
const sentBefore = sims.reduce((s, w) => s + w.samples.metricsSent, 0);
for (const s of sims) s.recording = true;
const tStart = performance.now();
console.log(
  `steady window: ${first.connected} of ${workers} workers connected; measuring for ${seconds} s ...`,
);
await sleep(seconds * 1000);
for (const s of sims) s.recording = false;
const windowS = (performance.now() - tStart) / 1000;
const sentDuring = sims.reduce((s, w) => s + w.samples.metricsSent, 0) - sentBefore;
// The coordinator's figures over whole seconds inside the window: the last line at its end.
const last = samples.at(-1) as ChildStats;
const windowSamples = samples.filter((s) => s.t >= first.t && s.t <= last.t);

for (const s of sims) s.stop();
await sleep(800);
child.stdin.end();
await childExit;

const all = (pick: (w: SimWorker) => number[]): number[] => sims.flatMap(pick);
const rtt = summarize(all((w) => w.samples.heartbeatRttMs));
const register = summarize(all((w) => w.samples.registerMs));
const health = summarize(all((w) => w.samples.healthMs));
const span = (last.t - first.t) / 1000;
const cpuS = (last.cpuUserUs + last.cpuSystemUs - first.cpuUserUs - first.cpuSystemUs) / 1e6;
const result = {
  workers,
  connectedAtStart: first.connected,
  connectedAtEnd: last.connected,
  failedStarts,
  lost: last.lost,
  seconds: windowS,
  metricsPerWorkerPerSecond: metricsRate,
  heartbeatEveryMs: leaseMs / 3,
  heartbeatRttMs: rtt,
  registerMs: register,
  healthCheckMs: health,
  heartbeatsPerSecond: (last.heartbeats - first.heartbeats) / span,
  metricsSentPerSecond: sentDuring / windowS,
  metricsIngestedPerSecond: (last.metrics - first.metrics) / span,
  coordinatorCpuPercentOfOneCore: (100 * cpuS) / span,
  coordinatorRssMiB: {
    idle: idle.rss / 2 ** 20,
    start: first.rss / 2 ** 20,
    end: last.rss / 2 ** 20,
    max: Math.max(...windowSamples.map((s) => s.rss)) / 2 ** 20,
  },
  coordinatorHeapUsedMiB: { end: last.heapUsed / 2 ** 20 },
  errors: sims.flatMap((w) => w.samples.errors).slice(0, 10),
  machine: { cores: os.cpus().length, loadAverage: os.loadavg() },
};

const fmt = (s: Summary): string =>
  `p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms, max ${s.max.toFixed(1)} ms (n=${s.n})`;
console.log(`
heartbeat round trip   ${fmt(rtt)}
Register               ${fmt(register)}   (during ramp-up)
health Check           ${fmt(health)}
heartbeats accepted    ${result.heartbeatsPerSecond.toFixed(0)}/s
metrics ingested       ${result.metricsIngestedPerSecond.toFixed(0)}/s (sent ${result.metricsSentPerSecond.toFixed(0)}/s)
coordinator CPU        ${result.coordinatorCpuPercentOfOneCore.toFixed(0)}% of one core
coordinator RSS        idle ${result.coordinatorRssMiB.idle.toFixed(0)} MiB before any worker; ${result.coordinatorRssMiB.start.toFixed(0)} -> ${result.coordinatorRssMiB.end.toFixed(0)} MiB (max ${result.coordinatorRssMiB.max.toFixed(0)}), heap used ${result.coordinatorHeapUsedMiB.end.toFixed(0)} MiB
workers                ${result.connectedAtStart} connected at start, ${result.connectedAtEnd} at end, ${failedStarts} failed to start, ${result.lost} lost
errors                 ${result.errors.length === 0 ? 'none' : result.errors.join('; ')}`);
if (values.json) fs.writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
process.exitCode = failedStarts > 0 || result.lost > 0 ? 1 : 0;
