/**
 * Collectives over Redis for a group of K ranks: all-gather of opaque byte payloads and an
 * all-reduce (sum, in rank order, so every rank gets bit-identical results) of float32 chunks.
 *
 * Each rank writes its part (PX-expiring keys of at most `chunkBytes` each), then pushes one
 * token onto every peer's notification list; each rank blocks on its own list (BLPOP on a
 * dedicated connection) until K-1 tokens arrived, then reads the peers' parts. No polling.
 * This is the replicated form (every rank reads every part: K x the payload per rank), exact and
 * simple; the owner-sharded reduction of ParamStore is the scalable one for big models.
 */
import type { Redis } from 'ioredis';
import { bufferToF32, f32ToBuffer } from './bytes.js';
import { ParamServerTimeoutError } from './errors.js';
import { TrialKeys } from './keys.js';

export interface CollectivesOptions {
  prefix?: string;
  /** How long to wait for the slowest peer (ms); default 120 s. */
  timeoutMs?: number;
  /** Expiry of the parts (ms); default 10 min. */
  ttlMs?: number;
}

export class RedisCollectives {
  private readonly keys: TrialKeys;
  private readonly timeoutMs: number;
  private readonly ttlMs: number;

  /** `client` for reads/writes, `blocking` a separate connection used only for BLPOP. */
  constructor(
    private readonly client: Redis,
    private readonly blocking: Redis,
    readonly trial: string,
    readonly rank: number,
    readonly worldSize: number,
    opts: CollectivesOptions = {},
  ) {
    if (!(Number.isInteger(worldSize) && worldSize >= 1))
      throw new Error(`world size must be >= 1, got ${worldSize}`);
    if (!(Number.isInteger(rank) && rank >= 0 && rank < worldSize))
      throw new Error(`rank ${rank} outside [0, ${worldSize})`);
    this.keys = new TrialKeys(trial, opts.prefix);
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.ttlMs = opts.ttlMs ?? 600_000;
  }

  /** Everyone's payload for (tag, step), in rank order (this rank's included). */
  async allGather(tag: string, step: number, payload: Buffer): Promise<Buffer[]> {
    await this.client.set(this.keys.collective(tag, step, this.rank), payload, 'PX', this.ttlMs);
    await this.announce(tag, step);
    const out: Buffer[] = [];
    for (let r = 0; r < this.worldSize; r++) {
      if (r === this.rank) {
        out.push(payload);
        continue;
      }
      const b = await this.client.getBuffer(this.keys.collective(tag, step, r));
      if (b === null)
        throw new Error(
          `trial ${this.trial}, step ${step}, rank ${r}: '${tag}' part expired or missing`,
        );
      out.push(b);
    }
    return out;
  }

  /** Element-wise sum over ranks (in rank order) of each chunk. */
  async allReduceSum(
    tag: string,
    step: number,
    chunks: readonly Float32Array[],
  ): Promise<Float32Array[]> {
    const pipeline = this.client.pipeline();
    chunks.forEach((c, i) =>
      pipeline.set(this.keys.collective(tag, step, this.rank, i), f32ToBuffer(c), 'PX', this.ttlMs),
    );
    await pipeline.exec();
    await this.announce(tag, step);
    const sums: Float32Array[] = [];
    for (let i = 0; i < chunks.length; i++) {
      let acc: Float32Array | null = null;
      for (let r = 0; r < this.worldSize; r++) {
        let part: Float32Array;
        if (r === this.rank) part = chunks[i] as Float32Array;
        else {
          const b = await this.client.getBuffer(this.keys.collective(tag, step, r, i));
          if (b === null)
            throw new Error(
              `trial ${this.trial}, step ${step}, rank ${r}, chunk ${i}: '${tag}' part expired or missing`,
            );
          part = bufferToF32(b);
        }
        if (acc === null) acc = Float32Array.from(part);
        else {
          if (part.length !== acc.length)
            throw new Error(
              `trial ${this.trial}, step ${step}, rank ${r}, chunk ${i}: ${part.length} values, expected ${acc.length}`,
            );
          for (let k = 0; k < acc.length; k++) acc[k] = acc[k]! + part[k]!;
        }
      }
      sums.push(acc ?? new Float32Array(0));
    }
    return sums;
  }

  /** Tell every peer this rank's part is written, then wait for all peers' tokens. */
  private async announce(tag: string, step: number): Promise<void> {
    const pipeline = this.client.pipeline();
    for (let r = 0; r < this.worldSize; r++) {
      if (r === this.rank) continue;
      const list = this.keys.collectiveNotify(tag, step, r);
      pipeline.rpush(list, String(this.rank));
      pipeline.pexpire(list, this.ttlMs);
    }
    await pipeline.exec();
    const mine = this.keys.collectiveNotify(tag, step, this.rank);
    const deadline = Date.now() + this.timeoutMs;
    const seen = new Set<string>();
    while (seen.size < this.worldSize - 1) {
      const left = deadline - Date.now();
      if (left <= 0) {
        const missing = Array.from({ length: this.worldSize }, (_, r) => r).filter(
          (r) => r !== this.rank && !seen.has(String(r)),
        );
        throw new ParamServerTimeoutError(
          `waiting for '${tag}' from rank(s) ${missing.join(', ')} of ${this.worldSize}`,
          { trial: this.trial, step, rank: this.rank },
          this.timeoutMs,
        );
      }
      // Short blocking slices so a deadline is noticed within a second.
      const got = await this.blocking.blpop(mine, Math.min(1, left / 1000));
      if (got !== null) seen.add(got[1]);
    }
  }
}
