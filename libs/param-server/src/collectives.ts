/**
 * Collectives over Redis for a group of K ranks: all-gather of opaque byte payloads and an
 * all-reduce (sum, in rank order, so every rank gets bit-identical results) of float32 chunks.
 *
 * Each rank writes its part (PX-expiring keys of at most `chunkBytes` each) and, in the same
 * pipeline after them, pushes one token onto every peer's notification list (Redis runs one
 * connection's commands in order, so a token is only visible after the parts); each rank blocks
 * on its own list (BLPOP on a dedicated connection) until K-1 tokens arrived, then reads all the
 * peers' parts in one pipeline. No polling; two round trips plus the wait per collective.
 * Works on one Redis or a Redis Cluster: every key of a collective carries the trial's hash tag,
 * so each pipeline stays within one slot (one node).
 *
 * This is the replicated form (every rank reads every part: K x the payload per rank), exact and
 * simple; the owner-sharded reduction of ParamStore is the scalable one for big models.
 */
import { bufferToF32, f32ToBuffer } from './bytes.js';
import { duplicateClient, type RedisClient } from './client.js';
import { ParamServerTimeoutError } from './errors.js';
import { addF16Chunk, encodeF16Chunk } from './fp16.js';
import { TrialKeys } from './keys.js';

/**
 * How gradient chunks travel in `allReduceSum`: `none` = float32 (exact, the default); `fp16` =
 * IEEE half with a per-chunk power-of-two scale (half the bytes; NOT exact: each rank's part is
 * rounded to 11 significant bits before the float32 sum; see fp16.ts and docs/param-server.md).
 */
export type Compression = 'none' | 'fp16';

export interface CollectivesOptions {
  prefix?: string;
  /** How long to wait for the slowest peer (ms); default 120 s. */
  timeoutMs?: number;
  /** Expiry of the parts (ms); default 10 min. */
  ttlMs?: number;
  /** Default encoding of `allReduceSum` parts; default `none` (exact). */
  compression?: Compression;
}

export interface AllReduceOptions {
  /** Overrides the collectives' default `compression` for this call. */
  compression?: Compression;
}

const COMPRESSIONS: readonly Compression[] = ['none', 'fp16'];

export class RedisCollectives {
  private readonly keys: TrialKeys;
  private readonly timeoutMs: number;
  private readonly ttlMs: number;
  readonly compression: Compression;
  /** Bytes this instance wrote to and read from Redis (payloads only). */
  bytesMoved = 0;
  /** Largest part (one Redis value) this instance wrote, per collective tag (for benchmarks). */
  readonly largestPart = new Map<string, number>();
  private readonly owned: RedisClient[] = [];

  /**
   * `client` for reads/writes, `blocking` a separate connection used only for BLPOP. Both may be
   * ioredis `Redis` or `Cluster` clients; they stay the caller's (see `fork` and `close`).
   */
  constructor(
    private readonly client: RedisClient,
    private readonly blocking: RedisClient,
    readonly trial: string,
    readonly rank: number,
    readonly worldSize: number,
    private readonly opts: CollectivesOptions = {},
  ) {
    if (!(Number.isInteger(worldSize) && worldSize >= 1))
      throw new Error(`world size must be >= 1, got ${worldSize}`);
    if (!(Number.isInteger(rank) && rank >= 0 && rank < worldSize))
      throw new Error(`rank ${rank} outside [0, ${worldSize})`);
    this.keys = new TrialKeys(trial, opts.prefix);
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.ttlMs = opts.ttlMs ?? 600_000;
    this.compression = opts.compression ?? 'none';
    if (!COMPRESSIONS.includes(this.compression))
      throw new Error(
        `collectives option compression: '${String(this.compression)}' is not one of ${COMPRESSIONS.join(', ')}`,
      );
  }

  /**
   * A second instance for the same rank that shares the write connection but blocks on its own
   * new connection, so collectives can run concurrently (e.g. a delayed gradient all-reduce
   * while the next step's all-gather waits). `close()` on the fork closes that connection.
   */
  fork(): RedisCollectives {
    const blocking = duplicateClient(this.blocking);
    const f = new RedisCollectives(
      this.client,
      blocking,
      this.trial,
      this.rank,
      this.worldSize,
      this.opts,
    );
    f.owned.push(blocking);
    return f;
  }

  /** Close the connections this instance opened itself (a fork's); callers' stay open. Idempotent. */
  close(): void {
    for (const c of this.owned.splice(0)) c.disconnect();
  }

  /** Everyone's payload for (tag, step), in rank order (this rank's included). */
  async allGather(tag: string, step: number, payload: Buffer): Promise<Buffer[]> {
    const parts = await this.exchange(tag, step, [payload]);
    return parts.map((p) => p[0] ?? Buffer.alloc(0));
  }

  /**
   * Element-wise sum over ranks (in rank order) of each chunk. With `fp16` every rank, this one
   * included, adds the decoded halves, so all ranks still get bit-identical sums.
   */
  async allReduceSum(
    tag: string,
    step: number,
    chunks: readonly Float32Array[],
    opts: AllReduceOptions = {},
  ): Promise<Float32Array[]> {
    const compression = opts.compression ?? this.compression;
    const fp16 = compression === 'fp16';
    const mine = chunks.map((c) => (fp16 ? encodeF16Chunk(c) : f32ToBuffer(c)));
    const parts = await this.exchange(tag, step, mine);
    return chunks.map((c, i) => {
      // Rank 0's part is copied, not added to zeros, so a lone -0 stays -0 (as one worker has it).
      let acc: Float32Array | null = null;
      parts.forEach((rankParts, r) => {
        const b = rankParts[i];
        if (b === undefined)
          throw new Error(
            `trial ${this.trial}, step ${step}, rank ${r}: no chunk ${i} of '${tag}'`,
          );
        if (fp16) {
          if (acc === null) acc = new Float32Array(c.length);
          return addF16Chunk(b, acc);
        }
        const part = r === this.rank ? c : bufferToF32(b);
        if (part.length !== c.length)
          throw new Error(
            `trial ${this.trial}, step ${step}, rank ${r}, chunk ${i}: ${part.length} values, expected ${c.length}`,
          );
        if (acc === null) acc = Float32Array.from(part);
        else for (let k = 0; k < acc.length; k++) acc[k] = acc[k]! + part[k]!;
      });
      return acc ?? new Float32Array(0);
    });
  }

  /**
   * Remove this rank's all-gather parts of (tag, step) for each tag, once every peer has read
   * them (the caller knows when: e.g. all peers reached a later collective). Parts expire after
   * `ttlMs` anyway; at many steps per second that is gigabytes a trial holds for nothing.
   */
  async dropOwnParts(tags: readonly string[], step: number): Promise<void> {
    if (tags.length === 0) return;
    await this.client.unlink(...tags.map((t) => this.keys.collective(t, step, this.rank, 0)));
  }

  /**
   * Personalised exchange: `byDest[d]` are this rank's parts for rank d (any number, each one
   * Redis value); returns, for every source rank in rank order, the parts it addressed to this
   * rank (this rank's own `byDest[rank]` as given). Each part is read by its one addressee, which
   * deletes it after reading (UNLINK), so a reduce-scatter leaves nothing behind. Tokens carry
   * the part count, so ranks may send different numbers of parts.
   */
  async allToAll(
    tag: string,
    step: number,
    byDest: readonly (readonly Buffer[])[],
  ): Promise<Buffer[][]> {
    if (byDest.length !== this.worldSize)
      throw new Error(
        `allToAll '${tag}': ${byDest.length} destinations for ${this.worldSize} ranks`,
      );
    const write = this.client.pipeline();
    let largest = 0;
    byDest.forEach((parts, d) => {
      if (d === this.rank) return;
      parts.forEach((b, i) => {
        write.set(this.keys.collectiveTo(tag, step, this.rank, d, i), b, 'PX', this.ttlMs);
        this.bytesMoved += b.byteLength;
        largest = Math.max(largest, b.byteLength);
      });
      const list = this.keys.collectiveNotify(tag, step, d);
      write.rpush(list, `${this.rank}:${parts.length}`);
      write.pexpire(list, this.ttlMs);
    });
    if (largest > (this.largestPart.get(tag) ?? 0)) this.largestPart.set(tag, largest);
    throwIfFailed(await write.exec(), `trial ${this.trial}, step ${step}: writing '${tag}'`);
    const counts = await this.waitForPeers(tag, step);
    const read = this.client.pipeline();
    const wanted: { from: number; i: number; key: string }[] = [];
    for (let r = 0; r < this.worldSize; r++) {
      if (r === this.rank) continue;
      for (let i = 0; i < (counts.get(r) ?? 0); i++) {
        const key = this.keys.collectiveTo(tag, step, r, this.rank, i);
        wanted.push({ from: r, i, key });
        read.getBuffer(key);
      }
    }
    for (const w of wanted) read.unlink(w.key);
    const got = (await read.exec()) ?? [];
    const out: Buffer[][] = Array.from({ length: this.worldSize }, () => []);
    out[this.rank] = [...(byDest[this.rank] ?? [])];
    wanted.forEach((w, k) => {
      const [err, b] = got[k] ?? [null, null];
      if (err) throw err;
      if (!Buffer.isBuffer(b))
        throw new Error(
          `trial ${this.trial}, step ${step}, rank ${w.from}, part ${w.i}: '${tag}' part expired or missing`,
        );
      this.bytesMoved += b.byteLength;
      (out[w.from] as Buffer[]).push(b);
    });
    return out;
  }

  /**
   * A barrier after this rank's writes: `write` adds commands to a pipeline that also carries
   * the peers' tokens (so a peer woken by the token sees the writes); resolves once every peer
   * passed the same (tag, step).
   */
  async barrier(
    tag: string,
    step: number,
    write?: (pipeline: ReturnType<RedisClient['pipeline']>) => void,
  ): Promise<void> {
    const p = this.client.pipeline();
    write?.(p);
    for (let r = 0; r < this.worldSize; r++) {
      if (r === this.rank) continue;
      const list = this.keys.collectiveNotify(tag, step, r);
      p.rpush(list, String(this.rank));
      p.pexpire(list, this.ttlMs);
    }
    throwIfFailed(await p.exec(), `trial ${this.trial}, step ${step}: barrier '${tag}'`);
    await this.waitForPeers(tag, step);
  }

  /**
   * Write this rank's parts (one key each) and the peers' tokens in one pipeline, wait for every
   * peer's token, then read all peer parts in one pipeline. Returns parts[rank][i].
   */
  private async exchange(tag: string, step: number, mine: readonly Buffer[]): Promise<Buffer[][]> {
    const write = this.client.pipeline();
    mine.forEach((b, i) =>
      write.set(this.keys.collective(tag, step, this.rank, i), b, 'PX', this.ttlMs),
    );
    for (let r = 0; r < this.worldSize; r++) {
      if (r === this.rank) continue;
      const list = this.keys.collectiveNotify(tag, step, r);
      write.rpush(list, String(this.rank));
      write.pexpire(list, this.ttlMs);
    }
    this.bytesMoved += mine.reduce((n, b) => n + b.byteLength, 0);
    const largest = Math.max(0, ...mine.map((b) => b.byteLength));
    if (largest > (this.largestPart.get(tag) ?? 0)) this.largestPart.set(tag, largest);
    throwIfFailed(await write.exec(), `trial ${this.trial}, step ${step}: writing '${tag}'`);
    await this.waitForPeers(tag, step);
    const peers = Array.from({ length: this.worldSize }, (_, r) => r).filter(
      (r) => r !== this.rank,
    );
    const read = this.client.pipeline();
    for (const r of peers)
      for (let i = 0; i < mine.length; i++) read.getBuffer(this.keys.collective(tag, step, r, i));
    const got = (await read.exec()) ?? [];
    const out: Buffer[][] = [];
    let at = 0;
    for (let r = 0; r < this.worldSize; r++) {
      if (r === this.rank) {
        out.push([...mine]);
        continue;
      }
      const parts: Buffer[] = [];
      for (let i = 0; i < mine.length; i++) {
        const [err, b] = got[at++] ?? [null, null];
        if (err) throw err;
        if (!Buffer.isBuffer(b))
          throw new Error(
            `trial ${this.trial}, step ${step}, rank ${r}, chunk ${i}: '${tag}' part expired or missing`,
          );
        this.bytesMoved += b.byteLength;
        parts.push(b);
      }
      out.push(parts);
    }
    return out;
  }

  /**
   * Block until every peer's token for (tag, step) arrived, or throw naming the missing ranks.
   * Returns the count each token carried (`rank:count`; 1 for a bare rank).
   */
  private async waitForPeers(tag: string, step: number): Promise<Map<number, number>> {
    const mine = this.keys.collectiveNotify(tag, step, this.rank);
    const deadline = Date.now() + this.timeoutMs;
    const seen = new Set<string>();
    const counts = new Map<number, number>();
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
      if (got !== null) {
        const [rank, count] = got[1].split(':');
        seen.add(rank ?? '');
        counts.set(Number(rank), count === undefined ? 1 : Number(count));
      }
    }
    return counts;
  }
}

function throwIfFailed(results: [Error | null, unknown][] | null, what: string): void {
  for (const [err] of results ?? [])
    if (err) throw new Error(`${what}: ${err.message}`, { cause: err });
}
