/**
 * The owner-sharded rank group over Redis (the training path of a multi-worker trial): the
 * model's ShardedRankGroup and the trainer's live-state sink on top of @mmim/param-server.
 *
 * Per optimiser step:
 * 1. coupling rows: all-gather (as the replicated group);
 * 2. gradients: reduce-scatter. The trainable parameters are laid out by the param-server's chunk
 *    plan (1 MiB chunks, round-robin owners); each rank sends each owner that owner's chunks of
 *    its gradient (one Redis value per chunk, read and deleted by the owner), and the owner sums
 *    them in rank order. The word embeddings travel row-sparse in an all-gather (only the rows
 *    of tokens in the rank's samples are non-zero), with the list of parameter names, which
 *    every rank checks (PyTorch's None gradients must be the same everywhere);
 * 3. clipping: every rank adds the squares of its owned sums, and the parts are summed over the
 *    ranks (a tiny all-gather), so the norm runs over ALL parameters as clip_grad_norm_ does;
 * 4. the owner applies Adam to its pieces (ShardedAdam, the stepper's rules) and writes the new
 *    chunk values and moments to the live state under the step's version; after a barrier every
 *    rank reads the chunks it does not own (only those the step changed);
 * 5. rank 0 commits the live head (chunk versions + the trainer's cursor), fenced by attempt.
 *
 * The sums are the replicated group's to the bit (same rank order); only the norm's float64
 * additions run in another order. Exchange traffic per rank and step: the gradient once
 * (P), the owned chunks' values and moments (3P/K) and the others' values ((K-1)P/K), instead of
 * the replicated all-reduce's K x P.
 */
import {
  OptimizerShard,
  gatherCoupling,
  type CouplingRows,
  type OwnedGradients,
  type ParamName,
  type PieceGrads,
  type ShardedRankGroup,
  type StepperSharding,
} from '@mmim/model';
import {
  LiveStateStore,
  RedisCollectives,
  addF16Chunk,
  bufferToF32,
  encodeF16Chunk,
  f32ToBuffer,
  gatherFromChunks,
  makeChunkPlan,
  ownedChunks,
  type ChunkInfo,
  type ChunkPlan,
  type Compression,
  type LiveHead,
  type ParamSpec,
  type RedisClient,
} from '@mmim/param-server';
import type { LiveSnapshot, LiveStateSink, TrainerCursor } from '@mmim/trainer';
import {
  decodeCoupling,
  decodeFrames,
  encodeCoupling,
  encodeFrames,
  encodeRows,
  sumRows,
  WORD_EMBEDDINGS,
} from './redis-rank-group.js';

/** Chunks of the live state and the reduce-scatter: small enough to spread over 8+ owners. */
export const LIVE_CHUNK_BYTES = 1024 * 1024;

export interface ShardedRedisGroupOptions {
  /** Encoding of the gradients on the wire (reduce-scatter); default `none` (exact). */
  compression?: Compression;
  /** Chunk size of the plan; default 1 MiB (every rank and every attempt must agree). */
  chunkBytes?: number;
}

/** The plan's inputs as the head records them (a resume must build the same plan). */
interface PlanInputs {
  chunkBytes: number;
  params: ParamSpec[];
}

export class ShardedRedisRankGroup implements ShardedRankGroup, LiveStateSink {
  readonly compression: Compression;
  readonly writesCursor: boolean;
  private readonly chunkBytes: number;
  private plan: ChunkPlan | null = null;
  private planText = '';
  private shard: OptimizerShard | null = null;
  private owners: number[] = [];
  /** Chunks holding pieces of each parameter. */
  private chunksOf = new Map<ParamName, number[]>();
  /** Version of each chunk's current live keys, and of the ones before (deleted next time). */
  private chunkVersions: number[] = [];
  private previous = new Map<number, number>();
  private version = 0;
  /** The data-parallel step (one per allGather of coupling rows); names the collectives. */
  private step = 0;
  /** Norm sums taken in the current step (two with update_batch: the batch's and the sum's). */
  private sums = 0;
  /** Payload bytes of the live-state writes and reads (the collectives count their own). */
  private liveBytes = 0;
  /** Milliseconds spent inside collectives and live-state I/O (waits included). */
  exchangeMs = 0;

  constructor(
    private readonly collectives: RedisCollectives,
    private readonly live: LiveStateStore,
    private readonly embeddingWidth: number,
    opts: ShardedRedisGroupOptions = {},
  ) {
    this.compression = opts.compression ?? 'none';
    if (this.compression !== 'none' && this.compression !== 'fp16')
      throw new Error(
        `sharded group option compression: '${String(this.compression)}' is not none or fp16`,
      );
    this.chunkBytes = opts.chunkBytes ?? LIVE_CHUNK_BYTES;
    this.writesCursor = collectives.rank === 0;
  }

  get rank(): number {
    return this.collectives.rank;
  }
  get worldSize(): number {
    return this.collectives.worldSize;
  }

  /** Payload bytes this rank wrote to and read from Redis so far (benchmarks, the ps/bytes curve). */
  get bytesMoved(): number {
    return this.collectives.bytesMoved + this.liveBytes;
  }

  /** Largest single Redis value this rank wrote, per collective tag and for the live chunks. */
  partSizes(): Record<string, number> {
    const out: Record<string, number> = Object.fromEntries(this.collectives.largestPart);
    if (this.shard !== null && this.shard.chunks.length > 0)
      out.live = Math.max(...this.shard.chunks.map((c) => c.length * 4));
    return out;
  }

  shardFor(params: readonly { name: ParamName; size: number }[]): StepperSharding {
    const inputs: PlanInputs = {
      chunkBytes: this.chunkBytes,
      params: params.map((p) => ({ name: p.name, size: p.size })),
    };
    const plan = makeChunkPlan(inputs.params, inputs.chunkBytes);
    this.plan = plan;
    this.planText = JSON.stringify(inputs);
    this.owners = plan.chunks.map((c) => c.index % this.worldSize);
    const mine = ownedChunks(plan, this.rank, this.worldSize, 'round-robin');
    this.shard = new OptimizerShard(mine.map((c) => plan.chunks[c] as ChunkInfo));
    for (const c of plan.chunks)
      for (const p of c.pieces) {
        const list = this.chunksOf.get(p.name) ?? [];
        list.push(c.index);
        this.chunksOf.set(p.name, list);
      }
    this.chunkVersions = plan.chunks.map(() => 0);
    return { shard: this.shard, readMoments: (names) => this.readMoments(names) };
  }

  async allGather(rows: CouplingRows): Promise<CouplingRows> {
    const step = ++this.step;
    this.sums = 0;
    const parts = await this.timed(() =>
      this.collectives.allGather('rows', step, encodeCoupling(rows)),
    );
    // Every peer has written this step's rows, so it has read all of the previous step's parts:
    // this rank's can go (its reduce-scatter parts were already deleted by their readers).
    await this.collectives.dropOwnParts(['rows', 'sparse', 'ssq0', 'ssq1'], step - 1);
    return gatherCoupling(parts.map((b, r) => decodeCoupling(b, `coupling rows of rank ${r}`)));
  }

  async reduceScatter(grads: Map<ParamName, Float32Array>): Promise<OwnedGradients> {
    const { plan, shard } = this.ready();
    const step = this.step;
    const names = [...grads.keys()].sort();
    const sparse = names.filter((n) => n === WORD_EMBEDDINGS);
    const header = Buffer.from(JSON.stringify(names));
    const frames = [
      header,
      ...sparse.map((n) =>
        encodeRows(grads.get(n) ?? new Float32Array(0), this.embeddingWidth, this.compression),
      ),
    ];
    // One value per (owner, chunk): the chunk's dense, computed pieces end to end.
    const dense = (c: ChunkInfo) =>
      c.pieces.filter((p) => grads.has(p.name) && p.name !== WORD_EMBEDDINGS);
    const byDest: Buffer[][] = Array.from({ length: this.worldSize }, () => []);
    for (const c of plan.chunks) {
      const pieces = dense(c);
      const values = new Float32Array(pieces.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of pieces) {
        const g = grads.get(p.name) as Float32Array;
        values.set(g.subarray(p.paramOffset, p.paramOffset + p.length), at);
        at += p.length;
      }
      (byDest[this.owners[c.index] ?? 0] as Buffer[]).push(
        this.compression === 'fp16' ? encodeF16Chunk(values) : f32ToBuffer(values),
      );
    }
    const [gathered, scattered] = await this.timed(() =>
      Promise.allSettled([
        this.collectives.allGather('sparse', step, encodeFrames(frames)),
        this.collectives.allToAll('grads', step, byDest),
      ]),
    );
    if (gathered.status === 'rejected') throw gathered.reason;
    const perRank = gathered.value.map((b, r) => decodeFrames(b, `step ${step}, rank ${r}`));
    perRank.forEach((f, r) => {
      if (f[0]?.toString() !== header.toString())
        throw new Error(
          `step ${step}: rank ${r} has gradients for other parameters than rank ${this.rank}`,
        );
    });
    if (scattered.status === 'rejected') throw scattered.reason;
    const owned = new Map<ParamName, PieceGrads>();
    const put = (name: ParamName, offset: number, g: Float32Array) => {
      const pieces = owned.get(name) ?? new Map<number, Float32Array>();
      pieces.set(offset, g);
      owned.set(name, pieces);
    };
    shard.chunks.forEach((c, k) => {
      const pieces = dense(c as ChunkInfo);
      const length = pieces.reduce((n, p) => n + p.length, 0);
      // Summed in rank order, as the replicated all-reduce does (rank 0's part copied).
      let acc: Float32Array | null = null;
      scattered.value.forEach((parts, r) => {
        const b = parts[k];
        if (b === undefined)
          throw new Error(`step ${step}: rank ${r} sent no gradient for chunk ${c.index}`);
        if (this.compression === 'fp16') {
          acc ??= new Float32Array(length);
          addF16Chunk(b, acc);
          return;
        }
        const part = bufferToF32(b);
        if (part.length !== length)
          throw new Error(
            `step ${step}, rank ${r}, chunk ${c.index}: ${part.length} values, expected ${length}`,
          );
        if (acc === null) acc = Float32Array.from(part);
        else for (let i = 0; i < length; i++) acc[i] = acc[i]! + part[i]!;
      });
      const sum = acc ?? new Float32Array(0);
      let at = 0;
      for (const p of pieces) {
        put(p.name, p.paramOffset, sum.subarray(at, at + p.length));
        at += p.length;
      }
    });
    const embeddingPieces = shard.piecesOf(WORD_EMBEDDINGS);
    if (sparse.length > 0 && embeddingPieces.length > 0) {
      const size = grads.get(WORD_EMBEDDINGS)?.length ?? 0;
      const summed = sumRows(
        perRank.map((f) => f[1] ?? Buffer.alloc(0)),
        size,
        this.embeddingWidth,
        this.compression,
      );
      for (const { piece } of embeddingPieces)
        put(
          WORD_EMBEDDINGS,
          piece.paramOffset,
          summed.subarray(piece.paramOffset, piece.paramOffset + piece.length),
        );
    }
    return { names, owned };
  }

  async sumOverRanks(x: number): Promise<number> {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(x);
    const tag = `ssq${this.sums++}`;
    const parts = await this.timed(() => this.collectives.allGather(tag, this.step, b));
    // Rank order: every rank adds the same numbers in the same order.
    return parts.reduce((sum, p) => sum + p.readDoubleLE(0), 0);
  }

  async publish(changed: readonly ParamName[], host: Map<ParamName, Float32Array>): Promise<void> {
    const { plan, shard } = this.ready();
    const version = ++this.version;
    const touched = new Set<number>();
    for (const name of changed) for (const c of this.chunksOf.get(name) ?? []) touched.add(c);
    const mine = shard.chunks.filter((c) => touched.has(c.index));
    await this.timed(() =>
      this.collectives.barrier('publish', this.step, (p) => {
        for (const c of mine) this.writeChunk(p, c as ChunkInfo, version, host);
      }),
    );
    const theirs = [...touched].filter((c) => this.owners[c] !== this.rank).sort((a, b) => a - b);
    const bufs = await this.timed(() =>
      this.live.readChunks(
        this.live.attempt,
        theirs.map((chunk) => ({ chunk, version, kind: 'p' as const })),
      ),
    );
    theirs.forEach((c, k) => {
      const values = bufferToF32(bufs[k] as Buffer);
      this.liveBytes += values.byteLength;
      for (const p of (plan.chunks[c] as ChunkInfo).pieces)
        (host.get(p.name) as Float32Array).set(
          values.subarray(p.chunkOffset, p.chunkOffset + p.length),
          p.paramOffset,
        );
    });
    for (const c of touched) this.chunkVersions[c] = version;
  }

  // ------------------------------------------------------------------ live state (LiveStateSink)

  /**
   * Before anyone reads the live state: rank 0 raises its fence (older attempts can no longer
   * commit a head), then every rank waits for that. Ranks reading before the fence could see
   * different heads if a lost group's ranks still run; after it, the head is frozen until this
   * group commits.
   */
  async fenceAndSync(): Promise<void> {
    if (this.rank === 0) await this.live.fence();
    await this.timed(() => this.collectives.barrier('fenced', 0));
  }

  async start(cursor: TrainerCursor | null, host: Map<ParamName, Float32Array>): Promise<void> {
    const { shard } = this.ready();
    const version = this.version; // 0: this attempt's first copy of every chunk
    await this.timed(() =>
      this.collectives.barrier('start', 0, (p) => {
        for (const c of shard.chunks) this.writeChunk(p, c as ChunkInfo, version, host);
      }),
    );
    if (this.rank === 0) {
      await this.commit(cursor);
      // The older attempts' copies are no longer named by the head.
      await this.live.dropOtherAttempts();
    }
  }

  async commit(cursor: TrainerCursor | null): Promise<void> {
    if (this.rank !== 0) return;
    if (cursor === null) throw new Error('rank 0 commits the live state with a cursor');
    await this.timed(() =>
      this.live.commit({ plan: this.planText, chunkVersions: this.chunkVersions, cursor }),
    );
  }

  /**
   * The trial's live state, when a group (this attempt's or an older one's) recorded one: the
   * trainer's cursor, every trainable parameter, and the owners' moments on demand.
   */
  async readSnapshot(): Promise<LiveSnapshot | null> {
    const head = await this.live.readHead();
    if (head === null) return null;
    const inputs = JSON.parse(head.plan) as PlanInputs;
    const plan = makeChunkPlan(inputs.params, inputs.chunkBytes);
    const bufs = await this.live.readChunks(
      head.attempt,
      plan.chunks.map((c) => ({ chunk: c.index, version: versionOf(head, c.index), kind: 'p' })),
    );
    this.liveBytes += bufs.reduce((n, b) => n + b.byteLength, 0);
    const params = gatherFromChunks(
      plan,
      bufs.map((b) => bufferToF32(b)),
    );
    return {
      cursor: head.cursor as TrainerCursor,
      params,
      loadMoments: async (shard) => {
        if (this.planText !== head.plan)
          throw new Error(
            `trial ${this.live.trial}: the live state was written for another parameter layout (model config changed?)`,
          );
        const wanted = shard.chunks.flatMap((c) =>
          (['m', 'v'] as const).map((kind) => ({
            chunk: c.index,
            version: versionOf(head, c.index),
            kind,
          })),
        );
        const got = await this.live.readChunks(head.attempt, wanted);
        shard.chunks.forEach((c, k) => {
          shard.m.get(c.index)?.set(bufferToF32(got[2 * k] as Buffer));
          shard.v.get(c.index)?.set(bufferToF32(got[2 * k + 1] as Buffer));
        });
      },
    };
  }

  /** Remove the trial's live state (its checkpoints hold the result). */
  async clear(): Promise<void> {
    await this.live.deleteAll();
  }

  private async readMoments(
    names: readonly ParamName[],
  ): Promise<Map<ParamName, { m: Float32Array; v: Float32Array }>> {
    const { plan } = this.ready();
    const chunks = new Set<number>();
    for (const n of names) for (const c of this.chunksOf.get(n) ?? []) chunks.add(c);
    const list = [...chunks].sort((a, b) => a - b);
    const got = await this.live.readChunks(
      this.live.attempt,
      list.flatMap((chunk) =>
        (['m', 'v'] as const).map((kind) => ({
          chunk,
          version: this.chunkVersions[chunk] ?? 0,
          kind,
        })),
      ),
    );
    const wanted = new Set(names);
    const out = new Map<ParamName, { m: Float32Array; v: Float32Array }>();
    const spec = new Map(plan.params.map((p) => [p.name, p.size]));
    list.forEach((c, k) => {
      const m = bufferToF32(got[2 * k] as Buffer);
      const v = bufferToF32(got[2 * k + 1] as Buffer);
      for (const p of (plan.chunks[c] as ChunkInfo).pieces) {
        if (!wanted.has(p.name)) continue;
        let slot = out.get(p.name);
        if (slot === undefined) {
          const size = spec.get(p.name) ?? 0;
          slot = { m: new Float32Array(size), v: new Float32Array(size) };
          out.set(p.name, slot);
        }
        slot.m.set(m.subarray(p.chunkOffset, p.chunkOffset + p.length), p.paramOffset);
        slot.v.set(v.subarray(p.chunkOffset, p.chunkOffset + p.length), p.paramOffset);
      }
    });
    return out;
  }

  /** Adds an owned chunk's values and moments at `version` to `p`, dropping its version before. */
  private writeChunk(
    p: ReturnType<RedisClient['pipeline']>,
    c: ChunkInfo,
    version: number,
    host: Map<ParamName, Float32Array>,
  ): void {
    const shard = this.shard as OptimizerShard;
    const values = new Float32Array(c.length);
    for (const piece of c.pieces)
      values.set(
        (host.get(piece.name) as Float32Array).subarray(
          piece.paramOffset,
          piece.paramOffset + piece.length,
        ),
        piece.chunkOffset,
      );
    const m = shard.m.get(c.index) as Float32Array;
    const v = shard.v.get(c.index) as Float32Array;
    this.live.writeChunk(p, c.index, version, 'p', f32ToBuffer(values));
    this.live.writeChunk(p, c.index, version, 'm', f32ToBuffer(m));
    this.live.writeChunk(p, c.index, version, 'v', f32ToBuffer(v));
    this.liveBytes += 3 * values.byteLength;
    // The head may still name the current version until rank 0 commits this step; the one
    // before it is named by nothing any more.
    const before = this.previous.get(c.index);
    if (before !== undefined && before !== version) this.live.dropChunk(p, c.index, before);
    const current = this.chunkVersions[c.index];
    if (current !== undefined && current !== version) this.previous.set(c.index, current);
  }

  private ready(): { plan: ChunkPlan; shard: OptimizerShard } {
    if (this.plan === null || this.shard === null)
      throw new Error('sharded group: shardFor() must be called before the first step');
    return { plan: this.plan, shard: this.shard };
  }

  private async timed<T>(f: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      this.exchangeMs += performance.now() - t0;
    }
  }
}

function versionOf(head: LiveHead, chunk: number): number {
  const v = head.chunkVersions[chunk];
  if (v === undefined) throw new Error(`live head names no version for chunk ${chunk}`);
  return v;
}
