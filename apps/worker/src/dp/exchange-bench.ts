/**
 * The gradient exchange alone (run by bench/scaling after its training runs), without the model's compute. Two ranks
 * in one process sum tiny-BERT MMIM-shaped gradients (dense chunks plus 800 non-zero rows of the
 * 30522 x 128 word-embedding table per rank) through one redis-server, float32 and fp16. Prints
 * wall and CPU milliseconds per step for both ranks together: CPU time is the figure to compare on
 * a machine others load (wall time there mostly measures the scheduler).
 *
 *   node --import tsx apps/worker/src/dp/exchange-bench.ts [--steps 15] [--repeat 3]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { MmimModel, TINY_BERT, resolveMmimConfig, type ParamName } from '@mmim/model';
import { initBackend } from '@mmim/runtime';
import { RedisCollectives, type Compression } from '@mmim/param-server';
import { startRedisServer } from '@mmim/param-server/testing';
import { RedisRankGroup } from './redis-rank-group.js';

const { values: args } = parseArgs({
  options: {
    steps: { type: 'string', default: '15' },
    repeat: { type: 'string', default: '3' },
  },
});
const steps = Number(args.steps);
await initBackend({ backend: 'wasm' });
const model = MmimModel.initialize(resolveMmimConfig({ bert: TINY_BERT, d_vin: 20, d_ain: 5 }), 1);
const W = TINY_BERT.hidden_size;

/** Gradients shaped like one rank's: every dense parameter, 800 rows of the embedding table. */
function gradsFor(rank: number): Map<ParamName, Float32Array> {
  const m = new Map<ParamName, Float32Array>();
  for (const [name, v] of model.host) {
    const g = new Float32Array(v.length);
    if (name.endsWith('word_embeddings.weight')) {
      for (let i = 0; i < 800; i++) {
        const row = (i * 37 + rank * 11) % (v.length / W);
        for (let k = 0; k < W; k++) g[row * W + k] = Math.sin(i + k) * 1e-3;
      }
    } else for (let i = 0; i < g.length; i++) g[i] = Math.sin(i * 0.1 + rank) * 1e-3;
    m.set(name, g);
  }
  return m;
}

const grads = [gradsFor(0), gradsFor(1)];
const redis = await startRedisServer();
try {
  for (let rep = 0; rep < Number(args.repeat); rep++) {
    for (const compression of ['none', 'fp16'] as Compression[]) {
      const conns = Array.from({ length: 4 }, () => redis.client());
      const groups = [0, 1].map(
        (r) =>
          new RedisRankGroup(
            new RedisCollectives(
              conns[2 * r] ?? redis.client(),
              conns[2 * r + 1] ?? redis.client(),
              `exchange-${rep}-${compression}`,
              r,
              2,
            ),
            W,
            { compression },
          ),
      );
      const step = (): Promise<unknown> =>
        Promise.all(groups.map((g, r) => g.sumGradients(grads[r] ?? new Map())));
      await step(); // warm-up
      const bytes0 = groups[0]?.bytesMoved ?? 0;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (let s = 0; s < steps; s++) await step();
      const wall = (performance.now() - t0) / steps;
      const cpu = process.cpuUsage(cpu0);
      const mib = ((groups[0]?.bytesMoved ?? 0) - bytes0) / steps / 2 ** 20;
      console.log(
        `exchange ${compression.padEnd(4)}: ${wall.toFixed(1)} ms wall, ` +
          `${((cpu.user + cpu.system) / 1000 / steps).toFixed(1)} ms CPU per step (both ranks), ` +
          `${mib.toFixed(2)} MiB per rank per step, load ${os.loadavg()[0]?.toFixed(1)}`,
      );
      conns.forEach((c) => c.disconnect());
    }
  }
} finally {
  model.dispose();
  await redis.stop();
}
