/**
 * Measures tfjs-backend-wasm 4.22's kernels against our replacements (src/kernels) on shapes
 * that occur in MMIM training: each case with the upstream kernels and with
 * registerWasmKernelFixes(), each in a fresh process. Figures go to docs/runtime.md.
 *
 * Run: node --import tsx libs/runtime/bench/wasm-kernels.bench.ts
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { registerGradients } from '../src/gradients/register.js';
import { registerWasmKernelFixes } from '../src/kernels/register.js';
import { randomTensor } from '../src/testing/backends.js';

interface Case {
  name: string;
  /** Floating-point operations of one run, to report GFLOP/s (0: report time only). */
  flops: number;
  run: () => tf.Tensor | tf.Tensor[];
}

function matMulCase(a: number[], b: number[], ta: boolean, tb: boolean): Case {
  const at = randomTensor(a, 1);
  const bt = randomTensor(b, 2);
  const m = a[ta ? a.length - 1 : a.length - 2]!;
  const k = a[ta ? a.length - 2 : a.length - 1]!;
  const n = b[tb ? b.length - 2 : b.length - 1]!;
  const batch = Math.max(
    tf.util.sizeFromShape(a.slice(0, -2)),
    tf.util.sizeFromShape(b.slice(0, -2)),
  );
  return {
    name: `matMul [${a}]${ta ? 'ᵀ' : ''} x [${b}]${tb ? 'ᵀ' : ''}`,
    flops: 2 * batch * m * k * n,
    run: () => tf.matMul(at, bt, ta, tb),
  };
}

await tf.setBackend('wasm');
registerGradients();

const seq = randomTensor([375, 32, 74], 3);
const seqBatchMajor = randomTensor([32, 375, 74], 4);
const gates = randomTensor([32, 64], 5);
const table = randomTensor([30522 / 6, 128].map(Math.floor), 6);
const ids = tf.tensor1d(
  Array.from({ length: 32 * 50 }, (_, i) => (i * 7919) % 5087),
  'int32',
);
const denseX = randomTensor([32 * 50, 128], 7);
const denseW = randomTensor([128, 512], 8);

const CASES: Case[] = [
  matMulCase([512, 512], [512, 512], false, false),
  matMulCase([512, 512], [512, 512], true, false),
  matMulCase([512, 512], [512, 512], false, true),
  matMulCase([1600, 128], [1600, 512], true, false), // dW of a dense layer, batch 32 x 50 tokens
  matMulCase([1600, 512], [128, 512], false, true), // dX of the same layer
  matMulCase([32, 50, 128], [128, 512], false, false), // rank-3 input to a dense layer
  matMulCase([64, 50, 32], [64, 50, 32], false, true), // attention scores, 32 x 2 heads
  matMulCase([64, 50, 50], [64, 50, 32], false, false), // attention x values
  {
    name: 'dense layer forward+backward [1600,128] x [128,512]',
    flops: 3 * 2 * 1600 * 128 * 512,
    run: () =>
      tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.relu(tf.matMul(x, w))))([denseX, denseW]),
  },
  {
    name: 'slice one step of [375,32,74] x 375',
    flops: 0,
    run: () => Array.from({ length: 375 }, (_, t) => tf.slice(seq, [t, 0, 0], [1, 32, 74])),
  },
  { name: 'unstack [375,32,74] axis 0', flops: 0, run: () => tf.unstack(seq) },
  { name: 'unstack [32,375,74] axis 1', flops: 0, run: () => tf.unstack(seqBatchMajor, 1) },
  {
    name: 'split [32,64] in 4 x 375 steps',
    flops: 0,
    run: () => Array.from({ length: 375 }, () => tf.split(gates, 4, 1)).flat(),
  },
  {
    name: 'gradient of gather [5087,128], 1600 ids',
    flops: 0,
    run: () => tf.grad((w: tf.Tensor) => tf.sum(tf.gather(w, ids)))(table),
  },
];

function timeMs(c: Case, reps: number): number {
  const once = (): void => {
    tf.tidy(() => {
      const out = c.run();
      for (const t of Array.isArray(out) ? out : [out]) t.dataSync();
    });
  };
  once(); // warm-up (XNNPACK operator creation, JIT)
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    once();
    times.push(performance.now() - t0);
  }
  // The minimum: other processes on a shared 2-core machine only ever add time.
  return Math.min(...times);
}

function measureAll(): Record<string, number | null> {
  const result: Record<string, number | null> = {};
  for (const c of CASES) {
    try {
      result[c.name] = timeMs(c, 7);
    } catch {
      result[c.name] = null; // the upstream kernel throws (e.g. no UnsortedSegmentSum)
    }
  }
  return result;
}

const mode = process.env['BENCH_MODE'];
if (mode === 'upstream' || mode === 'fixed') {
  if (mode === 'fixed') registerWasmKernelFixes();
  process.stdout.write(JSON.stringify(measureAll()));
} else {
  // Each configuration runs in its own process (a shared heap would favour whichever runs
  // first), twice, alternating; the minimum of each case is kept.
  const runs = {
    upstream: [] as Record<string, number | null>[],
    fixed: [] as Record<string, number | null>[],
  };
  for (let round = 0; round < 2; round++) {
    for (const m of ['upstream', 'fixed'] as const) {
      const child = spawnSync(
        process.execPath,
        [...process.execArgv, fileURLToPath(import.meta.url)],
        {
          env: { ...process.env, BENCH_MODE: m },
          encoding: 'utf8',
        },
      );
      if (child.status !== 0) throw new Error(`bench child failed: ${child.stderr}`);
      runs[m].push(JSON.parse(child.stdout) as Record<string, number | null>);
    }
  }
  const best = (rs: Record<string, number | null>[], name: string): number | null => {
    const values = rs.map((r) => r[name]).filter((v): v is number => typeof v === 'number');
    return values.length === 0 ? null : Math.min(...values);
  };
  const fmt = (ms: number | null, flops: number): string =>
    ms === null
      ? 'throws'
      : `${ms.toFixed(2)} ms${flops > 0 ? ` (${(flops / ms / 1e6).toFixed(1)} GFLOP/s)` : ''}`;
  console.log('| case | upstream 4.22 | with our kernels | speed-up |');
  console.log('| --- | --- | --- | --- |');
  for (const c of CASES) {
    const before = best(runs.upstream, c.name);
    const after = best(runs.fixed, c.name);
    const speedup = before !== null && after !== null ? `${(before / after).toFixed(1)}x` : '-';
    console.log(`| ${c.name} | ${fmt(before, c.flops)} | ${fmt(after, c.flops)} | ${speedup} |`);
  }
}
