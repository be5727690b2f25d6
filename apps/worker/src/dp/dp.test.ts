/**
 * Data parallelism across real processes, through a real redis-server, after stage 0, 1, 0, 1
 * passes with dropout on:
 * - owner-sharded (the training path): K = 1, 2, 3, 4 processes, each stepping only the chunks it
 *   owns and publishing them to the live state, end with one worker's parameters (1e-5 relative
 *   per tensor), and on a real 3-master Redis Cluster bit for bit where they do on one
 *   redis-server; the live state keeps at most two versions per chunk;
 * - replicated (every rank sums everything): K = 2, 3 the same, and on the Redis Cluster.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { initBackend } from '@mmim/runtime';
import { MmimModel, TwoStageStepper, loadMmimWeights } from '@mmim/model';
import {
  startRedisCluster,
  startRedisServer,
  type RedisClusterHandle,
  type RedisServerHandle,
} from '@mmim/param-server/testing';
import { DEMO_CONFIG, DEMO_OPTIMIZATION, DEMO_STAGES, demoBatches } from './dp-train.js';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dp-train.ts');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-dp-'));
let redis: RedisServerHandle;
let cluster: RedisClusterHandle;

function runRank(
  port: number,
  trial: string,
  rank: number,
  world: number,
  out: string,
  extra: readonly string[] = [],
): Promise<void> {
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
        String(rank),
        '--world',
        String(world),
        '--out',
        out,
        ...extra,
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, MMIM_LOG_LEVEL: 'warn' },
      },
    );
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`rank ${rank} of ${world} exited ${code}: ${err}`)),
    );
  });
}

/** The reference: one worker stepping whole batches. */
async function singleWorker(): Promise<Map<string, Float32Array>> {
  const reference = MmimModel.initialize(DEMO_CONFIG, 5);
  const stepper = new TwoStageStepper(reference, DEMO_OPTIMIZATION);
  for (const stage of DEMO_STAGES) {
    stepper.beginStage(stage);
    for (const b of demoBatches()) await stepper.step(b);
  }
  const out = await reference.readStateDict();
  stepper.dispose();
  reference.dispose();
  return out;
}

function bytesOf(a: Float32Array | undefined): Buffer {
  return a === undefined ? Buffer.alloc(0) : Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Per-tensor relative differences above 1e-5, and ranks that disagree with rank 0. */
function problemsOf(
  K: number,
  expected: Map<string, Float32Array>,
  ranks: { state: Map<string, Float32Array> }[],
): string[] {
  const problems: string[] = [];
  for (const [name, v] of expected) {
    const first = ranks[0]?.state.get(name) ?? new Float32Array(0);
    for (const other of ranks.slice(1))
      if (!bytesOf(other.state.get(name)).equals(bytesOf(first)))
        problems.push(`K=${K}: ranks disagree on ${name}`);
    if (name.endsWith('attention.self.key.bias')) continue; // zero true gradient: see sharded.test.ts
    let num = 0;
    let den = 0;
    v.forEach((x, i) => {
      num += (x - (first[i] ?? NaN)) ** 2;
      den += x * x;
    });
    const rel = Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-12);
    if (!(rel <= 1e-5)) problems.push(`K=${K} ${name}: ${rel.toExponential(2)}`);
  }
  return problems;
}

describe('owner-sharded data parallelism over Redis, real processes', () => {
  let expected: Map<string, Float32Array>;
  before(async () => {
    [redis, cluster] = await Promise.all([startRedisServer(), startRedisCluster({ masters: 3 })]);
    await initBackend({ backend: 'wasm' });
    expected = await singleWorker();
  });

  it('K = 1, 2, 3, 4 owners end with the single-worker parameters', async () => {
    const problems: string[] = [];
    for (const K of [1, 2, 3, 4]) {
      const outs = Array.from({ length: K }, (_, r) =>
        path.join(tmp, `sharded-k${K}-rank${r}.safetensors`),
      );
      await Promise.all(
        outs.map((out, r) =>
          runRank(redis.port, `sharded-k${K}`, r, K, out, ['--mode', 'sharded']),
        ),
      );
      const ranks = await Promise.all(outs.map((o) => loadMmimWeights(o)));
      problems.push(...problemsOf(K, expected, ranks));
    }
    assert.deepEqual(problems, []);
  });

  it("leaves at most two versions of each live chunk and only the last step's exchange parts", async () => {
    const client = new Redis({ port: redis.port });
    try {
      const keys = await client.keys('*{trial:sharded-k3}:live:*');
      assert.ok(keys.length > 0, 'the live state is in Redis');
      // Every key is one chunk's value or moments of attempt 1; at most two versions per chunk.
      const versions = new Map<string, Set<string>>();
      for (const k of keys) {
        const m = /live:a1:c(\d+):v(\d+):([pmv])$/.exec(k);
        assert.ok(m, `unexpected live key ${k}`);
        const set = versions.get(m[1] ?? '') ?? new Set();
        set.add(m[2] ?? '');
        versions.set(m[1] ?? '', set);
      }
      for (const [chunk, set] of versions)
        assert.ok(set.size <= 2, `chunk ${chunk} kept ${set.size} versions`);
      // The reduce-scatter's parts were deleted by their readers, the all-gathers' by their
      // writers one step later: only the last step's are left (rows, sparse, norm per rank).
      assert.deepEqual(await client.keys('*{trial:sharded-k3}:coll:grads:*>*'), []);
      const parts = await client.keys('*{trial:sharded-k3}:coll:*');
      assert.ok(parts.length <= 3 * 4, `${parts.length} collective parts left: ${parts.join(' ')}`);
    } finally {
      client.disconnect();
    }
  });

  it('K = 1, 2, 3, 4 owners on a Redis Cluster end bit for bit as on one redis-server', async () => {
    for (const K of [1, 2, 3, 4]) {
      const ports = ['--redis-cluster', cluster.ports.join(','), '--mode', 'sharded'];
      const outs = Array.from({ length: K }, (_, r) =>
        path.join(tmp, `sharded-cluster-k${K}-rank${r}.safetensors`),
      );
      await Promise.all(
        outs.map((out, r) => runRank(0, `sharded-cluster-k${K}`, r, K, out, ports)),
      );
      const single = await loadMmimWeights(path.join(tmp, `sharded-k${K}-rank0.safetensors`));
      for (const out of outs) {
        const got = await loadMmimWeights(out);
        assert.equal(got.state.size, single.state.size);
        for (const [name, v] of single.state)
          assert.deepEqual(got.state.get(name), v, `K=${K}: ${name} differs on the cluster`);
      }
    }
  });
});

describe('replicated data parallelism over Redis, real processes', () => {
  after(async () => {
    await Promise.all([redis.stop(), cluster.stop()]);
  });

  it('K = 2 and K = 3 processes end with the single-worker parameters', async () => {
    const expected = await singleWorker();
    const problems: string[] = [];
    for (const K of [2, 3]) {
      const outs = Array.from({ length: K }, (_, r) =>
        path.join(tmp, `k${K}-rank${r}.safetensors`),
      );
      await Promise.all(
        outs.map((out, r) => runRank(redis.port, `dp-k${K}`, r, K, out, ['--mode', 'replicated'])),
      );
      problems.push(
        ...problemsOf(K, expected, await Promise.all(outs.map((o) => loadMmimWeights(o)))),
      );
    }
    assert.deepEqual(problems, []);
  });

  it('K = 2 processes on a Redis Cluster end with the single-Redis parameters', async () => {
    const ports = ['--redis-cluster', cluster.ports.join(','), '--mode', 'replicated'];
    const outs = [0, 1].map((r) => path.join(tmp, `cluster-rank${r}.safetensors`));
    await Promise.all(outs.map((out, r) => runRank(0, 'dp-cluster', r, 2, out, ports)));
    const single = await loadMmimWeights(path.join(tmp, 'k2-rank0.safetensors'));
    for (const out of outs) {
      const got = await loadMmimWeights(out);
      assert.equal(got.state.size, single.state.size);
      for (const [name, v] of single.state)
        assert.deepEqual(got.state.get(name), v, `${name} differs on the cluster`);
    }
  });
});
