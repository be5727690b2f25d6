/**
 * A data-parallel rank group over Redis: the model's RankGroup (all-gather of coupling rows,
 * sum of gradients) on top of @mmim/param-server's RedisCollectives. Coupling rows travel as
 * safetensors bytes; gradients as float32 (or fp16) chunks of at most 4 MiB laid out by a chunk
 * plan over the sorted parameter names, except the word embeddings, which travel as their
 * non-zero rows. All ranks check they hold the same names (so PyTorch's None-gradient semantics
 * survive the sum); that check rides in the same all-gather as the sparse rows.
 *
 * Options (both default to the exact synchronous step):
 * - `compression: 'fp16'` halves the gradient bytes; not exact (docs/param-server.md).
 * - `staleness: s > 0` delays gradients by s steps: step t's sum is exchanged in the background
 *   while steps t+1..t+s compute, and step t applies the sum of step t-s. Not exact either; see
 *   `sumGradients` and docs/param-server.md.
 */
import {
  gatherCoupling,
  type CouplingRows,
  type Modality,
  type PairName,
  type ParamName,
  type RankGroup,
} from '@mmim/model';
import {
  RedisCollectives,
  addF16Chunk,
  encodeF16Chunk,
  gatherFromChunks,
  makeChunkPlan,
  scatterToChunks,
  type Compression,
} from '@mmim/param-server';
import { parseSafetensors, serializeSafetensors, type SafetensorsTensor } from '@mmim/runtime';

const MODALITIES: readonly Modality[] = ['t', 'v', 'a'];

export function encodeCoupling(rows: CouplingRows): Buffer {
  const tensors = new Map<string, SafetensorsTensor>();
  for (const m of MODALITIES) {
    const c = rows.cpc[m];
    tensors.set(`cpc.${m}.x`, { dtype: 'F32', shape: [rows.rows, c.dim], data: c.x });
    tensors.set(`cpc.${m}.pred`, { dtype: 'F32', shape: [rows.rows, c.dim], data: c.pred });
  }
  for (const [pair, z] of Object.entries(rows.z) as [
    PairName,
    { data: Float32Array; dim: number },
  ][]) {
    tensors.set(`z.${pair}`, { dtype: 'F32', shape: [rows.rows, z.dim], data: z.data });
  }
  tensors.set('labels', { dtype: 'F32', shape: [rows.rows], data: rows.labels });
  const bytes = serializeSafetensors(tensors, {
    rows: String(rows.rows),
    l1Sum: String(rows.l1Sum),
    lldSum: String(rows.lldSum),
  });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function decodeCoupling(bytes: Buffer, source: string): CouplingRows {
  const f = parseSafetensors(
    new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    source,
  );
  const get = (name: string): { data: Float32Array; dim: number } => {
    const t = f.tensors.get(name);
    if (t === undefined) throw new Error(`${source}: coupling rows lack '${name}'`);
    return { data: Float32Array.from(t.data as Float32Array), dim: t.shape[1] ?? 0 };
  };
  const cpc = Object.fromEntries(
    MODALITIES.map((m) => {
      const x = get(`cpc.${m}.x`);
      return [m, { x: x.data, pred: get(`cpc.${m}.pred`).data, dim: x.dim }];
    }),
  ) as CouplingRows['cpc'];
  const z: CouplingRows['z'] = {};
  for (const name of f.tensors.keys())
    if (name.startsWith('z.')) z[name.slice(2) as PairName] = get(name);
  return {
    rows: Number(f.metadata.rows),
    cpc,
    z,
    labels: get('labels').data,
    l1Sum: Number(f.metadata.l1Sum),
    lldSum: Number(f.metadata.lldSum),
  };
}

export interface RedisRankGroupOptions {
  /** Encoding of gradients on the wire; default `none` (float32, exact). */
  compression?: Compression;
  /**
   * Steps a gradient sum may lag behind the parameters it is applied to; default 0 (exact
   * synchronous). With s > 0 call `drain()` before a stage change and at the end.
   */
  staleness?: number;
}

export class RedisRankGroup implements RankGroup {
  private step = 0;
  readonly compression: Compression;
  readonly staleness: number;
  /** Gradient exchanges in flight (staleness > 0), oldest first. */
  private readonly inFlight: Promise<Map<ParamName, Float32Array>>[] = [];
  /** Collectives on their own blocking connection for the background exchanges. */
  private lane: RedisCollectives | null = null;
  private closedLaneBytes = 0;

  /**
   * @param embeddingWidth BERT's hidden size: the word-embedding gradient is sent row-sparse
   *   (only the rows of tokens in the rank's samples are non-zero).
   */
  constructor(
    private readonly collectives: RedisCollectives,
    private readonly embeddingWidth: number,
    opts: RedisRankGroupOptions = {},
  ) {
    this.compression = opts.compression ?? collectives.compression;
    if (this.compression !== 'none' && this.compression !== 'fp16')
      throw new Error(
        `RedisRankGroup option compression: '${String(this.compression)}' is not none or fp16`,
      );
    this.staleness = opts.staleness ?? 0;
    if (!(Number.isInteger(this.staleness) && this.staleness >= 0))
      throw new Error(
        `RedisRankGroup option staleness: must be an integer >= 0, got ${this.staleness}`,
      );
  }

  /** Payload bytes this rank wrote to and read from Redis so far (for benchmarks). */
  get bytesMoved(): number {
    return this.collectives.bytesMoved + (this.lane?.bytesMoved ?? 0) + this.closedLaneBytes;
  }

  /** Milliseconds this rank spent inside allGather and sumGradients (waits included). */
  exchangeMs = 0;

  async allGather(rows: CouplingRows): Promise<CouplingRows> {
    const t0 = performance.now();
    const parts = await this.collectives.allGather('rows', this.step, encodeCoupling(rows));
    this.exchangeMs += performance.now() - t0;
    return gatherCoupling(parts.map((b, r) => decodeCoupling(b, `coupling rows of rank ${r}`)));
  }

  /**
   * The summed gradients to apply at this step. With staleness 0: the sum of `grads` over the
   * ranks. With staleness s: starts the exchange of `grads` and returns the sum exchanged s
   * steps ago; during the first s steps there is none yet and it returns an empty map (PyTorch's
   * "no gradient": the optimiser skips every parameter).
   */
  async sumGradients(grads: Map<ParamName, Float32Array>): Promise<Map<ParamName, Float32Array>> {
    const step = this.step++;
    const t0 = performance.now();
    try {
      if (this.staleness === 0) return await this.exchange(this.collectives, step, grads);
      this.lane ??= this.collectives.fork();
      const pending = this.exchange(this.lane, step, grads);
      // Awaited later (by a later step or drain); until then a failure must not go unhandled.
      pending.catch(() => undefined);
      this.inFlight.push(pending);
      if (this.inFlight.length <= this.staleness) return new Map();
      return (await this.inFlight.shift()) ?? new Map();
    } finally {
      this.exchangeMs += performance.now() - t0;
    }
  }

  /**
   * The sums still in flight (staleness > 0), oldest first, once they arrive. Apply them before
   * a stage change (they belong to the old stage's optimiser) and at the end of training.
   */
  async drain(): Promise<Map<ParamName, Float32Array>[]> {
    const all = this.inFlight.splice(0);
    return Promise.all(all);
  }

  /** Largest single Redis value this rank wrote, per collective tag (for benchmarks). */
  partSizes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of [this.collectives, this.lane])
      for (const [tag, n] of c?.largestPart ?? []) out[tag] = Math.max(out[tag] ?? 0, n);
    return out;
  }

  /** Close the background lane's connection (the collectives' own stay the caller's). */
  close(): void {
    this.closedLaneBytes += this.lane?.bytesMoved ?? 0;
    this.lane?.close();
    this.lane = null;
  }

  private async exchange(
    coll: RedisCollectives,
    step: number,
    grads: Map<ParamName, Float32Array>,
  ): Promise<Map<ParamName, Float32Array>> {
    const names = [...grads.keys()].sort();
    // Row-sparse tables (the word embeddings) travel as their non-zero rows only, in the same
    // all-gather as the name list.
    const sparse = names.filter((n) => this.rowWidth(n) !== null);
    const dense = names.filter((n) => this.rowWidth(n) === null);
    const header = Buffer.from(JSON.stringify(names));
    const frames = [
      header,
      ...sparse.map((n) =>
        encodeRows(grads.get(n) ?? new Float32Array(0), this.rowWidth(n) ?? 1, this.compression),
      ),
    ];
    const plan = makeChunkPlan(dense.map((name) => ({ name, size: grads.get(name)?.length ?? 0 })));
    const chunks = scatterToChunks(plan, grads);
    // Both collectives in flight together: one wait for the slowest peer instead of two.
    const [gathered, reduced] = await Promise.allSettled([
      coll.allGather('sparse', step, encodeFrames(frames)),
      coll.allReduceSum('grads', step, chunks, { compression: this.compression }),
    ]);
    if (gathered.status === 'rejected') throw gathered.reason;
    const perRank = gathered.value.map((b, r) => decodeFrames(b, `step ${step}, rank ${r}`));
    perRank.forEach((f, r) => {
      if (f[0]?.toString() !== header.toString())
        throw new Error(
          `step ${step}: rank ${r} has gradients for other parameters than rank ${coll.rank}`,
        );
    });
    if (reduced.status === 'rejected') throw reduced.reason;
    const out = new Map<ParamName, Float32Array>();
    sparse.forEach((name, i) => {
      const size = grads.get(name)?.length ?? 0;
      const parts = perRank.map((f) => f[i + 1] ?? Buffer.alloc(0));
      out.set(name, sumRows(parts, size, this.rowWidth(name) ?? 1, this.compression));
    });
    for (const [k, v] of gatherFromChunks(plan, reduced.value)) out.set(k, v);
    return out;
  }

  /** Row width of a parameter sent row-sparse, or null for dense ones. */
  private rowWidth(name: ParamName): number | null {
    return name === WORD_EMBEDDINGS ? this.embeddingWidth : null;
  }
}

/** The parameter whose gradient travels row-sparse (only the rows of the batch's tokens). */
export const WORD_EMBEDDINGS = 'text_enc.bertmodel.embeddings.word_embeddings.weight';

/** [count u32][length u32 + bytes]... : several buffers as one payload. */
export function encodeFrames(frames: readonly Buffer[]): Buffer {
  const head = Buffer.alloc(4 + 4 * frames.length);
  head.writeUInt32LE(frames.length, 0);
  frames.forEach((f, i) => head.writeUInt32LE(f.length, 4 + 4 * i));
  return Buffer.concat([head, ...frames]);
}

export function decodeFrames(b: Buffer, source: string): Buffer[] {
  const n = b.readUInt32LE(0);
  let at = 4 + 4 * n;
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const len = b.readUInt32LE(4 + 4 * i);
    if (at + len > b.length) throw new Error(`${source}: frame ${i} runs past the payload`);
    out.push(b.subarray(at, at + len));
    at += len;
  }
  return out;
}

/**
 * [row count u32][row indices u32...][row values...] of the rows with any non-zero; the values
 * as float32, or (fp16) as one scaled half-precision chunk.
 */
export function encodeRows(
  g: Float32Array,
  width: number,
  compression: Compression = 'none',
): Buffer {
  const rows: number[] = [];
  // A plain index loop (no per-element products): this scans the whole 30522 x H table every
  // step, and this form is 2-3x faster than indexing by row and column.
  const count = Math.ceil(g.length / width);
  for (let r = 0; r < count; r++) {
    const end = Math.min((r + 1) * width, g.length);
    for (let k = r * width; k < end; k++) {
      if (g[k] !== 0) {
        rows.push(r);
        break;
      }
    }
  }
  const values = new Float32Array(width * rows.length);
  rows.forEach((r, i) => values.set(g.subarray(r * width, (r + 1) * width), i * width));
  const head = Buffer.alloc(4 + 4 * rows.length);
  head.writeUInt32LE(rows.length, 0);
  rows.forEach((r, i) => head.writeUInt32LE(r, 4 + 4 * i));
  const body =
    compression === 'fp16'
      ? encodeF16Chunk(values)
      : Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  return Buffer.concat([head, body]);
}

/**
 * Dense sum of row-sparse parts, in rank order. Adding a missing row's zeros changes nothing, so
 * (float32) this equals the dense rank-ordered sum bit for bit.
 */
export function sumRows(
  parts: readonly Buffer[],
  size: number,
  width: number,
  compression: Compression = 'none',
): Float32Array {
  const out = new Float32Array(size);
  for (const p of parts) {
    const n = p.readUInt32LE(0);
    const body = p.subarray(4 + 4 * n);
    let values: Float32Array;
    if (compression === 'fp16') {
      values = new Float32Array(width * n);
      addF16Chunk(body, values);
    } else {
      // An aligned copy for the Float32Array view (socket buffers may sit at any offset).
      const copy = Buffer.from(body);
      values = new Float32Array(copy.buffer, copy.byteOffset, width * n);
    }
    for (let i = 0; i < n; i++) {
      const row = p.readUInt32LE(4 + 4 * i);
      for (let k = 0; k < width; k++)
        out[row * width + k] = out[row * width + k]! + values[i * width + k]!;
    }
  }
  return out;
}
