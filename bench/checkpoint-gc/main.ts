/**
 * bench/checkpoint-gc: what the artifact store and the retention GC do to Redis memory and disk
 * for a 12-trial sweep (4 grid configs x 3 seeds, ASHA, tiny synthetic MOSI).
 *
 *   npm run bench:checkpoint-gc [-- --workers 3 --epochs 3]
 *
 * Runs the same sweep on two fresh local clusters: checkpoints in Redis (`--artifacts redis`,
 * capped store) and in the run directory (`dir:`, the `mmim up` default). Samples the durable
 * Redis's used_memory every 250 ms (before, peak, after the sweep and its GC) and the artifact
 * directory's size, and reads the coordinator's `checkpoint gc freed` log lines (bytes freed,
 * milliseconds per pass). Prints one JSON object per store and the machine's load.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { LocalCluster } from '@mmim/cli';

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '3' },
    epochs: { type: 'string', default: '3' },
  },
});

const SWEEP = `
name: gc-bench
data: {synthetic: mosi, train: 32, valid: 16, test: 16, seed: 7}
method: grid
metric: {name: valid.mae, goal: minimize}
parameters:
  lr_main: {values: [0.0003, 0.001, 0.003, 0.01]}
seeds: [1111, 1112, 1113]
workers_per_trial: 1
run_cap: 4
trainer: {num_epochs: ${values.epochs}, batch_size: 16}
early_terminate: {type: asha, min_epochs: 1, eta: 2}
checkpoints: {keep_best_trials: 1}
`;

const usedMemory = async (redis: Redis): Promise<number> =>
  Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1]);

function dirBytes(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let total = 0;
  for (const f of fs.readdirSync(dir, { recursive: true })) {
    const p = path.join(dir, String(f));
    const st = fs.statSync(p);
    if (st.isFile()) total += st.size;
  }
  return total;
}

async function run(store: 'redis' | 'dir'): Promise<Record<string, unknown>> {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), `mmim-gc-bench-${store}-`));
  if (store === 'redis') process.env['MMIM_ARTIFACTS'] = 'redis:?max_bytes=268435456';
  else delete process.env['MMIM_ARTIFACTS'];
  const cluster = await LocalCluster.start({
    workers: Number(values.workers),
    runDir,
    httpPort: 0,
    backend: 'wasm',
    env: { MMIM_LOG_LEVEL: 'info' },
  });
  const redis = new Redis(cluster.redisUrl);
  const artifacts = path.join(runDir, 'artifacts');
  try {
    const before = await usedMemory(redis);
    let peak = before;
    let peakDisk = 0;
    const t0 = Date.now();
    const { sweep } = await cluster.api.createSweep(SWEEP);
    let counts: Record<string, number> = {};
    for (;;) {
      peak = Math.max(peak, await usedMemory(redis));
      peakDisk = Math.max(peakDisk, dirBytes(artifacts));
      const r = await cluster.api.sweep(sweep.id);
      counts = r.counts as unknown as Record<string, number>;
      if (r.sweep.state === 'finished') break;
      await new Promise((res) => setTimeout(res, 250));
    }
    const sweepSeconds = (Date.now() - t0) / 1000;
    await new Promise((res) => setTimeout(res, 3000)); // the GC's pass a second after the end
    const after = await usedMemory(redis);
    const log = fs.readFileSync(path.join(runDir, 'logs', 'coordinator.log'), 'utf8');
    const passes = log
      .split('\n')
      .filter((l) => l.includes('checkpoint gc freed'))
      .map((l) => JSON.parse(l) as { freedBytes: number; ms: number });
    const checkpointKeys = (await redis.keys('mmim:{art:*')).length;
    return {
      store,
      trials: counts,
      sweepSeconds,
      redisUsedBytes: { before, peak, after },
      artifactDirBytes: { peak: peakDisk, after: dirBytes(artifacts) },
      checkpointChunkKeysInRedisAfter: checkpointKeys,
      gc: {
        passesThatFreed: passes.length,
        freedBytes: passes.reduce((s, p) => s + p.freedBytes, 0),
        msPerPass: passes.map((p) => p.ms),
      },
    };
  } finally {
    redis.disconnect();
    await cluster.stop();
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}

const loadBefore = os.loadavg();
const results = [await run('redis'), await run('dir')];
for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
process.stdout.write(
  `${JSON.stringify({ cpus: os.cpus().length, loadavgBefore: loadBefore, loadavgAfter: os.loadavg() })}\n`,
);
