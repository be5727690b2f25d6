/**
 * bench/sweep: what early stopping buys on synthetic MOSI, and what the coordinator costs.
 *
 *   npm run bench:sweep [-- --workers 2 --configs 8 --epochs 4]
 *
 * Runs the same random sweep (same sampler seed, so the same configs) twice on one local
 * cluster: with ASHA, and without early stopping. Prints the best valid MAE each reached and
 * the worker-seconds each spent (their ratio), then the trial dispatch latency (queued -> started
 * while a worker is idle) and the coordinator's CPU seconds per trial (from its /metrics).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LocalCluster, type ApiClient } from '@mmim/cli';
import type { TrialRecord } from '@mmim/experiments';

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '2' },
    configs: { type: 'string', default: '8' },
    epochs: { type: 'string', default: '4' },
    train: { type: 'string', default: '64' },
  },
});
const WORKERS = Number(values.workers);
const CONFIGS = Number(values.configs);
const EPOCHS = Number(values.epochs);

function sweepYaml(name: string, early: string): string {
  return `
name: ${name}
data: {synthetic: mosi, train: ${values.train}, valid: 32, test: 32, seed: 11}
method: random
sampler_seed: 5
metric: {name: valid.mae, goal: minimize}
parameters:
  lr_main: {distribution: log_uniform_values, min: 1.0e-5, max: 3.0e-2}
  alpha: {values: [0.0, 0.1, 0.3]}
seeds: [1111]
workers_per_trial: 1
${early}
run_cap: ${CONFIGS}
trainer: {num_epochs: ${EPOCHS}, batch_size: 16}
`;
}

async function cpuSeconds(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('process_cpu_seconds_total'));
  return Number(line?.split(' ')[1] ?? Number.NaN);
}

async function runSweep(
  api: ApiClient,
  name: string,
  early: string,
): Promise<{ trials: TrialRecord[]; wallSeconds: number }> {
  const t0 = Date.now();
  const { sweep } = await api.createSweep(sweepYaml(name, early));
  for (;;) {
    const { sweep: s } = await api.sweep(sweep.id);
    if (s.state === 'finished' || s.state === 'cancelled') break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const { trials } = await api.trialsOf(sweep.id);
  return { trials, wallSeconds: (Date.now() - t0) / 1000 };
}

function workerSeconds(trials: TrialRecord[]): number {
  return trials.reduce(
    (s, t) => s + (((t.endedAt ?? 0) - (t.startedAt ?? t.endedAt ?? 0)) / 1000) * t.workersPerTrial,
    0,
  );
}

function bestOf(trials: TrialRecord[]): number {
  return Math.min(...trials.map((t) => t.bestValue ?? Number.POSITIVE_INFINITY));
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
}

async function main(): Promise<void> {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-bench-sweep-'));
  const cluster = await LocalCluster.start({
    workers: WORKERS,
    runDir,
    httpPort: 0,
    backend: 'wasm',
    env: { MMIM_LOG_LEVEL: 'warn' },
  });
  try {
    const api = cluster.api;
    // Let every worker register before timing anything.
    for (;;) {
      const { workers } = await api.workers();
      if (workers.filter((w) => w.state === 'idle').length >= WORKERS) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const cpu0 = await cpuSeconds(cluster.httpUrl);
    const asha = await runSweep(
      api,
      'bench-asha',
      'early_terminate: {type: asha, min_epochs: 1, eta: 2}',
    );
    const none = await runSweep(api, 'bench-none', '');
    const cpu1 = await cpuSeconds(cluster.httpUrl);
    const all = [...asha.trials, ...none.trials];
    // Dispatch latency: trials that were created while a worker was idle are the first
    // WORKERS of each sweep (all are created at once, the rest wait for a worker).
    const latencies = [asha.trials, none.trials].flatMap((ts) =>
      [...ts]
        .sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0))
        .slice(0, WORKERS)
        .map((t) => (t.startedAt ?? Number.NaN) - t.createdAt),
    );
    const wsA = workerSeconds(asha.trials);
    const wsN = workerSeconds(none.trials);
    const out = {
      machine: `${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}`,
      workers: WORKERS,
      configs: CONFIGS,
      epochs: EPOCHS,
      asha: {
        bestValidMae: bestOf(asha.trials),
        workerSeconds: wsA,
        wallSeconds: asha.wallSeconds,
        pruned: asha.trials.filter((t) => t.state === 'pruned').length,
      },
      noEarlyStopping: {
        bestValidMae: bestOf(none.trials),
        workerSeconds: wsN,
        wallSeconds: none.wallSeconds,
      },
      workerSecondsRatio: wsA / wsN,
      dispatchLatencyMs: { p50: quantile(latencies, 0.5), max: Math.max(...latencies) },
      coordinatorCpuSecondsPerTrial: (cpu1 - cpu0) / all.length,
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } finally {
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/sweep: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
