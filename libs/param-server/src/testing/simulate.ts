/**
 * Test fixture: K simulated ranks in one process, each with its own Redis connection, running
 * the step protocol on known random gradients, and the single-process reference they must match.
 */
import type { RedisClient } from '../client.js';
import { gatherFromChunks, makeChunkPlan, scatterToChunks, type ParamSpec } from '../chunking.js';
import { ParamStore, type ApplyContext, type ParamStoreOptions } from '../store.js';

export const SPECS: ParamSpec[] = [
  { name: 'a', size: 10 },
  { name: 'b', size: 23 },
  { name: 'c', size: 5 },
  { name: 'd', size: 40 },
];

/** Deterministic PRNG (mulberry32) so every rank and the reference see the same numbers. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomParams(
  seed: number,
  specs: readonly ParamSpec[] = SPECS,
): Map<string, Float32Array> {
  const r = rng(seed);
  return new Map(
    specs.map((s) => [s.name, Float32Array.from({ length: s.size }, () => r() - 0.5)]),
  );
}

/** Rank `rank`'s gradient at `step`: depends only on (step, rank). */
export function gradientOf(
  step: number,
  rank: number,
  specs: readonly ParamSpec[] = SPECS,
): Map<string, Float32Array> {
  return randomParams(1000 + step * 97 + rank, specs);
}

/** An Adam-like element-wise update that uses both moment slots. */
export function adamLike(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  ctx: ApplyContext,
): void {
  const lr = 0.05;
  const b1 = 0.9;
  const b2 = 0.999;
  const t = ctx.step + 1;
  for (let i = 0; i < p.length; i++) {
    const gi = (g[i] as number) * ctx.gradScale;
    const mi = b1 * (m[i] as number) + (1 - b1) * gi;
    const vi = b2 * (v[i] as number) + (1 - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = (p[i] as number) - (lr * (mi / (1 - b1 ** t))) / (Math.sqrt(vi / (1 - b2 ** t)) + 1e-8);
  }
}

/**
 * Momentum SGD that also accumulates squared gradients in v. Unlike Adam it is not invariant to
 * the gradient's scale, so it checks the clip factor.
 */
export function sgdLike(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  ctx: ApplyContext,
): void {
  for (let i = 0; i < p.length; i++) {
    const gi = (g[i] as number) * ctx.gradScale;
    m[i] = 0.9 * (m[i] as number) + gi;
    v[i] = (v[i] as number) + gi * gi;
    p[i] = (p[i] as number) - 0.1 * (m[i] as number);
  }
}

export interface SimOptions {
  /** The optimiser; default adamLike. */
  optimizer?: 'adam' | 'sgd';
  /** The model's parameters; default SPECS (78 floats). */
  specs?: readonly ParamSpec[];
  worldSize: number;
  steps: number;
  chunkBytes: number;
  clipNorm?: number;
  /** Called between steps (after every rank pulled step s, before step s + 1). */
  between?: (step: number) => Promise<void>;
  storeOptions?: ParamStoreOptions;
}

const optimizerOf = (o: SimOptions): typeof adamLike =>
  o.optimizer === 'sgd' ? sgdLike : adamLike;

const flat = (chunks: readonly Float32Array[]): Float32Array =>
  Float32Array.from(chunks.flatMap((c) => Array.from(c)));

/** Single-process reference: the same sums (rank order, float32) and updates on whole arrays. */
export function reference(opts: SimOptions): Map<string, Float32Array> {
  const plan = makeChunkPlan(opts.specs ?? SPECS, opts.chunkBytes);
  const p = flat(scatterToChunks(plan, randomParams(1, opts.specs)));
  const m = new Float32Array(p.length);
  const v = new Float32Array(p.length);
  for (let step = 0; step < opts.steps; step++) {
    const sum = new Float32Array(p.length);
    for (let r = 0; r < opts.worldSize; r++) {
      const g = flat(scatterToChunks(plan, gradientOf(step, r, opts.specs)));
      for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + (g[i] as number);
    }
    let gradScale = 1 / opts.worldSize;
    if (opts.clipNorm !== undefined) {
      let ssq = 0;
      for (const x of sum) ssq += x * x;
      const norm = Math.sqrt(ssq) * gradScale;
      if (norm > opts.clipNorm) gradScale *= opts.clipNorm / (norm + 1e-6);
    }
    optimizerOf(opts)(p, sum, m, v, { step, gradScale });
  }
  const chunks: Float32Array[] = [];
  for (const c of plan.chunks) chunks.push(p.slice(c.start, c.start + c.length));
  return gatherFromChunks(plan, chunks);
}

/**
 * Run the protocol with `worldSize` concurrent ranks; returns every rank's final parameters.
 * `connect` gives each rank its own connection (closed here).
 */
export async function simulate(
  trial: string,
  connect: () => RedisClient,
  opts: SimOptions,
): Promise<Map<string, Float32Array>[]> {
  const plan = makeChunkPlan(opts.specs ?? SPECS, opts.chunkBytes);
  const ranks = [...Array(opts.worldSize).keys()].map((rank) => {
    const client = connect();
    return { rank, client, store: new ParamStore(client, opts.storeOptions) };
  });
  const results: Map<string, Float32Array>[] = [];
  try {
    // Every rank races to initialise with the same values; one writes.
    const wrote = await Promise.all(
      ranks.map(({ store }) => store.initialize(trial, plan, randomParams(1, opts.specs))),
    );
    if (wrote.filter(Boolean).length !== 1) throw new Error(`initialised ${wrote.join()}`);
    for (let step = 0; step < opts.steps; step++) {
      const pulled = await Promise.all(
        ranks.map(async ({ rank, store }) => {
          await store.publishGradients(
            trial,
            step,
            rank,
            scatterToChunks(plan, gradientOf(step, rank, opts.specs)),
          );
          await store.reduceAndApply(
            trial,
            step,
            rank,
            opts.worldSize,
            (_c, p, g, m, v, ctx) => optimizerOf(opts)(p, g, m, v, ctx),
            {
              gradScale: 1 / opts.worldSize,
              ...(opts.clipNorm !== undefined ? { clipNorm: opts.clipNorm } : {}),
            },
          );
          return gatherFromChunks(plan, await store.pullParameters(trial, step));
        }),
      );
      if (step === opts.steps - 1) results.push(...pulled);
      else await opts.between?.(step);
    }
  } finally {
    for (const r of ranks) {
      await r.store.close();
      r.client.disconnect();
    }
  }
  return results;
}

export function maxAbsDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let worst = 0;
  for (const [name, x] of a) {
    const y = b.get(name);
    if (!y || y.length !== x.length) return Infinity;
    for (let i = 0; i < x.length; i++)
      worst = Math.max(worst, Math.abs((x[i] as number) - (y[i] as number)));
  }
  return worst;
}
