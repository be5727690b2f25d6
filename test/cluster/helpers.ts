/**
 * Shared pieces of the cluster tests: a local cluster of real processes (Redis, coordinator,
 * workers), waiting on the API, and reading a trial's final parameters from Redis.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { LocalCluster, type ApiClient } from '@mmim/cli';
import { CheckpointStore, type TrialRecord } from '@mmim/experiments';
import { parseSafetensors } from '@mmim/runtime';

export const TERMINAL = ['completed', 'pruned', 'failed', 'cancelled'];

/** Children log at info to files; tests pin the backend so runs are comparable. */
export async function startCluster(workers: number, leaseMs = 1500): Promise<LocalCluster> {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-cluster-'));
  return LocalCluster.start({
    workers,
    runDir,
    httpPort: 0,
    leaseMs,
    backend: 'wasm',
    env: { MMIM_LOG_LEVEL: 'info' },
  });
}

export async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | null | undefined | false>,
  everyMs = 300,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown = null;
  for (;;) {
    try {
      const v = await probe();
      if (v !== null && v !== undefined && v !== false) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${(lastErr as Error).message})` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function trialWhen(
  api: ApiClient,
  id: string,
  what: string,
  timeoutMs: number,
  ok: (t: TrialRecord) => boolean,
): Promise<TrialRecord> {
  return until(what, timeoutMs, async () => {
    const { trial } = await api.trial(id);
    return ok(trial) ? trial : null;
  });
}

/** The model weights of a trial's last checkpoint in Redis (optimizer state left out). */
export async function finalWeights(
  redisUrl: string,
  trialId: string,
): Promise<Map<string, Float32Array>> {
  const redis = new Redis(redisUrl);
  try {
    const ckpt = await new CheckpointStore(redis).get(trialId, 'last');
    if (!ckpt) throw new Error(`trial ${trialId} has no checkpoint in Redis`);
    return checkpointWeights(ckpt.data, `checkpoint of ${trialId}`);
  } finally {
    redis.disconnect();
  }
}

/** The model weights of a training checkpoint's bytes (optimizer state left out). */
export function checkpointWeights(data: Buffer, what: string): Map<string, Float32Array> {
  const file = parseSafetensors(
    new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    what,
  );
  const out = new Map<string, Float32Array>();
  for (const [name, t] of file.tensors) {
    if (name.startsWith('optimizer.')) continue; // OPTIMIZER_TENSOR_PREFIX: Adam moments
    if (t.dtype === 'F32') out.set(name, Float32Array.from(t.data as Float32Array));
  }
  return out;
}

/**
 * The largest per-tensor relative difference ||a - b|| / ||b|| over every shared parameter
 * (the measure of the data-parallel tests). BERT's attention key biases are left out: their
 * true gradient is zero (softmax ignores a shift shared by all keys), so what they receive is
 * rounding noise that Adam scales up to learning-rate-sized steps; any change of summation
 * order changes them (libs/model/src/sharded.test.ts).
 */
export function maxRelativeDiff(
  a: Map<string, Float32Array>,
  b: Map<string, Float32Array>,
): { worst: number; name: string; count: number } {
  let worst = 0;
  let worstName = '';
  let count = 0;
  for (const [name, x] of a) {
    if (name.endsWith('attention.self.key.bias')) continue;
    const y = b.get(name);
    if (!y) throw new Error(`parameter ${name} missing from the second run`);
    count++;
    let num = 0;
    let den = 0;
    for (let i = 0; i < x.length; i++) {
      num += ((x[i] ?? 0) - (y[i] ?? 0)) ** 2;
      den += (y[i] ?? 0) ** 2;
    }
    const rel = Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-12);
    if (!(rel <= worst)) {
      worst = rel;
      worstName = name;
    }
  }
  return { worst, name: worstName, count };
}
