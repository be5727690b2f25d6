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

  constructor(private readonly collectives: RedisCollectives) {}

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
    const plan = makeChunkPlan(names.map((name) => ({ name, size: grads.get(name)?.length ?? 0 })));
    const chunks = scatterToChunks(plan, grads);
    const summed = await this.collectives.allReduceSum('grads', step, chunks);
    // Written once, read back from each peer.
    this.bytesMoved += chunks.reduce((n, c) => n + c.byteLength, 0) * this.collectives.worldSize;
    return gatherFromChunks(plan, summed);
  }
}
