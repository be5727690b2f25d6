/**
 * bench/scaling: samples/s of exact data-parallel MMIM training (stage 1, tiny BERT, MOSI
 * shapes, global batch 32) with K = 1 and K = 2 worker processes exchanging coupling rows and
 * gradients through one redis-server (started here), the efficiency K=2 / (2 x K=1), bytes
 * moved per step, and raw Redis SET/GET MB/s for 4 MiB values measured in the same run.
 *
 *   npm run bench:scaling -- [--steps 4]
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startRedisServer } from '@mmim/param-server';

const { values: args } = parseArgs({ options: { steps: { type: 'string', default: '4' } } });
const script = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../apps/worker/src/dp/dp-train.ts',
);

interface StepLine {
  rank: number;
  step: number;
  ms: number;
  bytes: number;
}

function rank(port: number, trial: string, r: number, world: number): Promise<StepLine[]> {
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
        String(args.steps),
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
              .map((l) => JSON.parse(l) as StepLine),
          )
        : reject(new Error(`rank ${r} exited ${code}`)),
    );
  });
}

const redis = await startRedisServer();
try {
  const client = redis.client();
  const value = Buffer.alloc(4 * 2 ** 20, 7);
  const n = 64;
  let t0 = performance.now();
  for (let i = 0; i < n; i++) await client.set(`bench:raw:${i}`, value);
  const setMBs = (n * 4) / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  for (let i = 0; i < n; i++) await client.getBuffer(`bench:raw:${i}`);
  const getMBs = (n * 4) / ((performance.now() - t0) / 1000);
  await client.quit();
  console.log(
    `bench/scaling | raw Redis, 4 MiB values: SET ${setMBs.toFixed(0)} MB/s, GET ${getMBs.toFixed(0)} MB/s`,
  );

  const results = new Map<number, { sps: number; bytes: number; ms: number }>();
  for (const K of [1, 2]) {
    const lines = (
      await Promise.all(Array.from({ length: K }, (_, r) => rank(redis.port, `scale-${K}`, r, K)))
    ).flat();
    const steps = Number(args.steps);
    const stepMs = Array.from({ length: steps }, (_, i) =>
      Math.max(...lines.filter((l) => l.step === i + 1).map((l) => l.ms)),
    );
    const ms = stepMs.reduce((a, b) => a + b, 0) / steps;
    const bytes = lines.filter((l) => l.step === 1).reduce((s, l) => s + l.bytes, 0);
    results.set(K, { sps: 32 / (ms / 1000), bytes, ms });
    console.log(
      `K=${K}: ${ms.toFixed(0)} ms/step, ${(32 / (ms / 1000)).toFixed(1)} samples/s, ` +
        `${(bytes / 2 ** 20).toFixed(1)} MiB through Redis per step (all ranks), ${(bytes / 2 ** 20 / (ms / 1000)).toFixed(0)} MiB/s`,
    );
  }
  const k1 = results.get(1);
  const k2 = results.get(2);
  if (k1 && k2) console.log(`efficiency K=2 / (2 x K=1): ${(k2.sps / (2 * k1.sps)).toFixed(2)}`);
} finally {
  await redis.stop();
}
