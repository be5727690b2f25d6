/**
 * bench/scaling: samples/s of data-parallel MMIM training (stage 1, tiny BERT, MOSI shapes,
 * global batch 32) with K = 1 and K = 2 worker processes exchanging coupling rows and gradients
 * through one redis-server (started here): the exact step, fp16 gradients and staleness 1.
 * Prints the efficiency K=2 / (2 x K=1), bytes moved per step, the parameter-exchange MB/s
 * (payload bytes over the time spent inside the exchange, waits included) and, measured in the
 * same run, raw Redis SET/GET MB/s for the same value sizes the exchange wrote.
 *
 *   npm run bench:scaling -- [--steps 4] [--configs exact,fp16,stale,fp16+stale] [--repeat 1]
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startRedisServer } from '@mmim/param-server';

const { values: args } = parseArgs({
  options: {
    steps: { type: 'string', default: '4' },
    configs: { type: 'string', default: 'exact,fp16,stale' },
    // Run every config this many times, interleaved, and keep each one's fastest run: on a
    // machine others load, the fastest run is the closest to an unloaded one.
    repeat: { type: 'string', default: '1' },
  },
});
const steps = Number(args.steps);
const dpDir = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../apps/worker/src/dp',
);
const script = path.join(dpDir, 'dp-train.ts');
const GLOBAL_BATCH = 32;
const MiB = 2 ** 20;

interface StepLine {
  rank: number;
  step: number;
  ms: number;
  bytes: number;
  exchangeMs: number;
}
interface PartsLine {
  rank: number;
  parts: Record<string, number>;
}

interface Config {
  label: string;
  K: number;
  flags: string[];
}

function rank(
  port: number,
  trial: string,
  r: number,
  world: number,
  flags: readonly string[],
): Promise<(StepLine | PartsLine)[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        script,
        '--redis-port',
        String(port),
        '--trial',
        trial,
        '--rank',
        String(r),
        '--world',
        String(world),
        '--setup',
        'mosi',
        '--steps',
        String(steps),
        ...flags,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, MMIM_LOG_LEVEL: 'warn' } },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) =>
      code === 0
        ? resolve(
            out
              .trim()
              .split('\n')
              .filter(Boolean)
              .map((l) => JSON.parse(l) as StepLine | PartsLine),
          )
        : reject(new Error(`rank ${r} of ${world} (${flags.join(' ')}) exited ${code}`)),
    );
  });
}

/** K=1 and K=2 exact always run (the efficiency needs them); the others by `--configs`. */
const ALL_CONFIGS: (Config & { key: string })[] = [
  { key: 'exact', label: 'K=1 plain step', K: 1, flags: ['--plain'] },
  { key: 'exact', label: 'K=1 exact', K: 1, flags: [] },
  { key: 'exact', label: 'K=2 exact', K: 2, flags: [] },
  { key: 'fp16', label: 'K=2 fp16', K: 2, flags: ['--compression', 'fp16'] },
  { key: 'stale', label: 'K=2 staleness 1', K: 2, flags: ['--staleness', '1'] },
  {
    key: 'fp16+stale',
    label: 'K=2 fp16 + staleness 1',
    K: 2,
    flags: ['--compression', 'fp16', '--staleness', '1'],
  },
];
const wanted = new Set(['exact', ...(args.configs ?? '').split(',')]);
const configs = ALL_CONFIGS.filter((c) => wanted.has(c.key));

console.log(
  `bench/scaling | ${new Date().toISOString()} | load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} | ${os.cpus().length} cores | ${steps} timed steps per config`,
);
const redis = await startRedisServer();
try {
  interface Run {
    ms: number;
    bytes: number;
    exchangeMs: number;
  }
  const best = new Map<string, Run & { runs: number[] }>();
  let partSizes: Record<string, number> = {};
  for (let rep = 0; rep < Number(args.repeat); rep++) {
    for (const c of configs) {
      const trial = `scale-${rep}-${c.label.replace(/\W+/g, '-')}`;
      const lines = (
        await Promise.all(
          Array.from({ length: c.K }, (_, r) => rank(redis.port, trial, r, c.K, c.flags)),
        )
      ).flat();
      const stepLines = lines.filter((l): l is StepLine => 'step' in l);
      if (c.label === 'K=2 exact')
        partSizes = lines.find((l): l is PartsLine => 'parts' in l)?.parts ?? {};
      // A step ends when its slowest rank does.
      const stepMs = Array.from({ length: steps }, (_, i) =>
        Math.max(...stepLines.filter((l) => l.step === i + 1).map((l) => l.ms)),
      );
      const run: Run = {
        ms: stepMs.reduce((a, b) => a + b, 0) / steps,
        bytes: stepLines.reduce((s, l) => s + l.bytes, 0) / steps, // all ranks
        exchangeMs: stepLines.reduce((s, l) => s + l.exchangeMs, 0) / steps / c.K,
      };
      const prev = best.get(c.label);
      const runs = [...(prev?.runs ?? []), Math.round(run.ms)];
      best.set(c.label, prev && prev.ms <= run.ms ? { ...prev, runs } : { ...run, runs });
    }
  }
  const k1 = best.get('K=1 exact');
  const plain = best.get('K=1 plain step');
  for (const c of configs) {
    const r = best.get(c.label);
    if (r === undefined) continue;
    const sps = GLOBAL_BATCH / (r.ms / 1000);
    // Efficiency against the K=1 data-parallel step (the figure) and against the plain
    // single-worker step (no exchange, no second forward: what a user would otherwise run).
    const eff =
      c.K === 2 && k1 && plain
        ? `, efficiency ${(k1.ms / (2 * r.ms)).toFixed(2)} (vs plain K=1: ${(plain.ms / (2 * r.ms)).toFixed(2)})`
        : '';
    const exchange =
      r.exchangeMs > 0
        ? `; ${(r.bytes / MiB).toFixed(2)} MiB through Redis per step (all ranks); exchange ${r.exchangeMs.toFixed(0)} ms/step per rank ` +
          `= ${(r.bytes / c.K / MiB / (r.exchangeMs / 1000)).toFixed(0)} MiB/s per rank`
        : '; no exchange';
    console.log(
      `${c.label.padEnd(24)} ${r.ms.toFixed(0).padStart(5)} ms/step (runs: ${r.runs.join(', ')}), ` +
        `${sps.toFixed(1).padStart(6)} samples/s${eff}${exchange}`,
    );
  }

  // Raw Redis for the value sizes the exchange wrote (largest part per collective).
  const client = redis.client();
  for (const [tag, size] of Object.entries(partSizes).sort((a, b) => b[1] - a[1])) {
    const value = Buffer.alloc(size, 7);
    const n = Math.max(20, Math.min(500, Math.round((64 * MiB) / size)));
    let t0 = performance.now();
    for (let i = 0; i < n; i++) await client.set(`bench:raw:${i}`, value);
    const setMBs = (n * size) / MiB / ((performance.now() - t0) / 1000);
    t0 = performance.now();
    for (let i = 0; i < n; i++) await client.getBuffer(`bench:raw:${i}`);
    const getMBs = (n * size) / MiB / ((performance.now() - t0) / 1000);
    console.log(
      `raw Redis, '${tag}' values of ${(size / 1024).toFixed(0)} KiB: SET ${setMBs.toFixed(0)} MiB/s, GET ${getMBs.toFixed(0)} MiB/s (one at a time)`,
    );
  }
  await client.quit();
} finally {
  await redis.stop();
}

// The exchange alone (no model compute), float32 vs fp16, in wall and CPU time.
await new Promise<void>((resolve, reject) => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(dpDir, 'exchange-bench.ts'), '--repeat', '2'],
    { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, MMIM_LOG_LEVEL: 'warn' } },
  );
  child.on('exit', (code) =>
    code === 0 ? resolve() : reject(new Error(`exchange-bench exited ${code}`)),
  );
});
console.log(
  `load average at the end ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
