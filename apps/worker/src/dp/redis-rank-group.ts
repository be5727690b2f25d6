/**
 * A data-parallel rank group over Redis: the model's RankGroup (all-gather of coupling rows,
 * sum of gradients) on top of @mmim/param-server's RedisCollectives. Coupling rows travel as
 * safetensors bytes; gradients as float32 chunks of at most 4 MiB laid out by a chunk plan over
 * the sorted parameter names (all ranks check they hold the same names first, so PyTorch's
 * None-gradient semantics survive the sum).
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
  gatherFromChunks,
  makeChunkPlan,
  scatterToChunks,
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

export class RedisRankGroup implements RankGroup {
  private step = 0;
  /** Bytes this rank wrote to and read from Redis so far (for benchmarks). */
  bytesMoved = 0;

  /**
   * @param embeddingWidth BERT's hidden size: the word-embedding gradient is sent row-sparse
   *   (only the rows of tokens in the rank's samples are non-zero).
   */
  constructor(
    private readonly collectives: RedisCollectives,
    private readonly embeddingWidth: number,
  ) {}

  async allGather(rows: CouplingRows): Promise<CouplingRows> {
    const parts = await this.collectives.allGather('rows', this.step, encodeCoupling(rows));
    this.bytesMoved += parts.reduce((n, p) => n + p.length, 0);
    return gatherCoupling(parts.map((b, r) => decodeCoupling(b, `coupling rows of rank ${r}`)));
  }

  async sumGradients(grads: Map<ParamName, Float32Array>): Promise<Map<ParamName, Float32Array>> {
    const step = this.step++;
    const names = [...grads.keys()].sort();
    const lists = await this.collectives.allGather(
      'names',
      step,
      Buffer.from(JSON.stringify(names)),
    );
    lists.forEach((b, r) => {
      if (b.toString() !== JSON.stringify(names)) {
        throw new Error(
          `step ${step}: rank ${r} has gradients for other parameters than rank ${this.collectives.rank}`,
        );
      }
    });
    // Row-sparse tables (the word embeddings) travel as their non-zero rows only.
    const sparse = names.filter((n) => this.rowWidth(n) !== null);
    const dense = names.filter((n) => this.rowWidth(n) === null);
    const out = new Map<ParamName, Float32Array>();
    for (const name of sparse) {
      const g = grads.get(name) ?? new Float32Array(0);
      const width = this.rowWidth(name) ?? 1;
      const parts = await this.collectives.allGather(`rows:${name}`, step, encodeRows(g, width));
      this.bytesMoved += parts.reduce((n, p) => n + p.length, 0);
      out.set(name, sumRows(parts, g.length, width));
    }
    const plan = makeChunkPlan(dense.map((name) => ({ name, size: grads.get(name)?.length ?? 0 })));
    const chunks = scatterToChunks(plan, grads);
    const summed = await this.collectives.allReduceSum('grads', step, chunks);
    // Written once, read back from each peer.
    this.bytesMoved += chunks.reduce((n, c) => n + c.byteLength, 0) * this.collectives.worldSize;
    for (const [k, v] of gatherFromChunks(plan, summed)) out.set(k, v);
    return out;
  }

  /** Row width of a parameter sent row-sparse, or null for dense ones. */
  private rowWidth(name: ParamName): number | null {
    return name === WORD_EMBEDDINGS ? this.embeddingWidth : null;
  }
}

const WORD_EMBEDDINGS = 'text_enc.bertmodel.embeddings.word_embeddings.weight';

/** [row count u32][row indices u32...][row values f32...] of the rows with any non-zero. */
export function encodeRows(g: Float32Array, width: number): Buffer {
  const rows: number[] = [];
  for (let r = 0; r * width < g.length; r++) {
    for (let k = 0; k < width; k++) {
      if (g[r * width + k] !== 0) {
        rows.push(r);
        break;
      }
    }
  }
  const buf = Buffer.alloc(4 + 4 * rows.length + 4 * width * rows.length);
  buf.writeUInt32LE(rows.length, 0);
  rows.forEach((r, i) => buf.writeUInt32LE(r, 4 + 4 * i));
  const values = new Float32Array(
    buf.buffer,
    buf.byteOffset + 4 + 4 * rows.length,
    width * rows.length,
  );
  rows.forEach((r, i) => values.set(g.subarray(r * width, (r + 1) * width), i * width));
  return buf;
}

/**
 * Dense sum of row-sparse parts, in rank order. Adding a missing row's zeros changes nothing, so
 * this equals the dense rank-ordered sum bit for bit.
 */
export function sumRows(parts: readonly Buffer[], size: number, width: number): Float32Array {
  const out = new Float32Array(size);
  for (const p of parts) {
    const copy = Buffer.from(p); // aligned copy for the Float32Array view
    const n = copy.readUInt32LE(0);
    const values = new Float32Array(copy.buffer, copy.byteOffset + 4 + 4 * n, width * n);
    for (let i = 0; i < n; i++) {
      const row = copy.readUInt32LE(4 + 4 * i);
      for (let k = 0; k < width; k++)
        out[row * width + k] = out[row * width + k]! + values[i * width + k]!;
    }
  }
  return out;
}
