/**
 * A sweep on a local cluster while a seeded schedule SIGKILLs workers, the coordinator and
 * Redis at random moments and starts them again. Used by the short CI run (chaos.test.ts) and
 * the long script (bench/chaos/main.ts).
 *
 * What it checks at the end (returned, so the caller asserts or prints):
 * - every trial ended once (one terminal event) and completed;
 * - every trial's epochs are 1..n, each once, with finite metrics (nothing lost or doubled);
 * - the best trial's final parameters equal a fault-free run of the same config and seed.
 *
 * Redis runs with `appendfsync always`: a SIGKILLed Redis loses nothing it acknowledged, which
 * is the setting to use when Redis may die without warning (docs/operations.md).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalCluster } from '@mmim/cli';
import type { TrialRecord } from '@mmim/experiments';
import { finalWeights, maxRelativeDiff, TERMINAL, until } from '../cluster/helpers.js';

export type FaultKind = 'worker' | 'coordinator' | 'redis';

export interface Fault {
  atMs: number;
  kind: FaultKind;
  /** Worker index for 'worker'. */
  target: number;
  /** How long the process stays down. */
  downMs: number;
}

export interface ChaosOptions {
  seed: number;
  workers: number;
  faults: number;
  /** Faults are spread over this window after the sweep starts. */
  windowMs: number;
  configs: number;
  seeds: number[];
  epochs: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  schedule: Fault[];
  injected: Fault[];
  trials: number;
  completed: number;
  endedOnce: boolean;
  epochsIntact: boolean;
  problems: string[];
  bestTrialId: string;
  bestVsFaultFree: { worst: number; name: string; count: number };
  seconds: number;
}

/** mulberry32: the schedule is a pure function of the seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function chaosSchedule(
  o: Pick<ChaosOptions, 'seed' | 'workers' | 'faults' | 'windowMs'>,
): Fault[] {
  const r = rng(o.seed);
  const kinds: FaultKind[] = ['worker', 'coordinator', 'redis'];
  const faults: Fault[] = [];
  for (let i = 0; i < o.faults; i++) {
    faults.push({
      atMs: Math.round(((i + 0.2 + 0.6 * r()) / o.faults) * o.windowMs),
      kind: kinds[i % kinds.length] ?? 'worker',
      target: Math.floor(r() * o.workers),
      downMs: 200 + Math.round(r() * 1500),
    });
  }
  return faults;
}

function sweepYaml(o: ChaosOptions): string {
  return `
name: chaos-${o.seed}
data: {synthetic: mosi, train: 32, valid: 16, test: 16, seed: 9}
method: grid
metric: {name: valid.mae, goal: minimize}
parameters:
  lr_main: {values: [${Array.from({ length: o.configs }, (_, i) => (0.001 * (i + 1)).toFixed(3)).join(', ')}]}
seeds: [${o.seeds.join(', ')}]
workers_per_trial: 1
max_failures: 20
run_cap: ${o.configs}
trainer: {num_epochs: ${o.epochs}, batch_size: 16}
# The fault-free comparison reads the best trial's last checkpoint, which the GC drops by default.
checkpoints: {keep_last_per_trial: true}
`;
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const say = o.log ?? ((): void => undefined);
  const started = Date.now();
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-chaos-'));
  const cluster = await LocalCluster.start({
    workers: o.workers,
    runDir,
    leaseMs: 1500,
    backend: 'wasm',
    redisFsync: 'always',
    env: { MMIM_LOG_LEVEL: 'info' },
  });
  const schedule = chaosSchedule(o);
  const injected: Fault[] = [];
  try {
    const { sweep } = await cluster.api.createSweep(sweepYaml(o));
    say(
      `sweep ${sweep.id}: ${o.configs} configs x ${o.seeds.length} seeds; ${schedule.length} faults`,
    );
    const t0 = Date.now();
    for (const f of schedule) {
      const wait = t0 + f.atMs - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const { sweep: s } = await until('the API', 300_000, () => cluster.api.sweep(sweep.id));
      if (s.state === 'finished') break;
      say(
        `t+${Math.round((Date.now() - t0) / 1000)} s: SIGKILL ${f.kind}${f.kind === 'worker' ? ` ${f.target}` : ''}, down ${f.downMs} ms`,
      );
      if (f.kind === 'worker') {
        const name = `local-${f.target}`;
        const child = cluster.workers.find((w) => w.name === name);
        child?.proc.kill('SIGKILL');
        await child?.exited;
        await new Promise((r) => setTimeout(r, f.downMs));
        cluster.startWorker(name);
      } else if (f.kind === 'coordinator') {
        cluster.coordinator?.proc.kill('SIGKILL');
        await cluster.coordinator?.exited;
        await new Promise((r) => setTimeout(r, f.downMs));
        await cluster.startCoordinator();
      } else {
        await cluster.restartRedis(f.downMs, 'SIGKILL');
      }
      injected.push(f);
    }
    await until(
      'the sweep to finish',
      1_200_000,
      async () => {
        const { sweep: s } = await cluster.api.sweep(sweep.id);
        return s.state === 'finished' ? s : null;
      },
      1000,
    );
    const { sweep: done } = await cluster.api.sweep(sweep.id);
    const { trials } = await cluster.api.trialsOf(sweep.id);
    const problems: string[] = [];
    let endedOnce = true;
    let epochsIntact = true;
    for (const t of trials) {
      const { events, epochs } = await cluster.api.trial(t.id);
      const finals = events.filter((e) => TERMINAL.includes(e.type)).length;
      if (finals !== 1) {
        endedOnce = false;
        problems.push(`${t.id} ended ${finals} times`);
      }
      const numbers = epochs.map((e) => e.epoch).join(',');
      const expected = Array.from({ length: o.epochs }, (_, i) => i + 1).join(',');
      if (numbers !== expected || epochs.some((e) => !Number.isFinite(e.valid.mae))) {
        epochsIntact = false;
        problems.push(`${t.id}: epochs ${numbers}, expected ${expected}`);
      }
    }
    const best = trials.find((t) => t.id === done.best?.trialIds[0]) as TrialRecord | undefined;
    if (!best) throw new Error(`the sweep has no best trial: ${JSON.stringify(done.best)}`);
    // The same config and seed, on a healthy cluster.
    const { trial: clean } = await cluster.api.createTrial({
      data: (best.spec as { data: Record<string, unknown> }).data,
      trainer: (best.spec as { trainer: Record<string, unknown> }).trainer,
      seed: best.seed,
      workers: 1,
      name: 'fault-free',
    });
    await until(
      'the fault-free run',
      600_000,
      async () => {
        const { trial } = await cluster.api.trial(clean.id);
        return TERMINAL.includes(trial.state) ? trial : null;
      },
      1000,
    );
    const diff = maxRelativeDiff(
      await finalWeights(cluster.redisUrl, best.id),
      await finalWeights(cluster.redisUrl, clean.id),
    );
    return {
      schedule,
      injected,
      trials: trials.length,
      completed: trials.filter((t) => t.state === 'completed').length,
      endedOnce,
      epochsIntact,
      problems,
      bestTrialId: best.id,
      bestVsFaultFree: diff,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await cluster.stop();
  }
}
