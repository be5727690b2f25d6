/**
 * An in-process owner-sharded rank group for tests: K sharded trainers in one process meet at a
 * barrier per collective (as MemoryRankGroups), and a "live state" object stands in for the
 * parameter server: owners publish their chunks' values and moments there, rank 0 its cursor, and
 * a later group can resume from it. `failAtPublish` makes every rank throw at that publish (a
 * group lost mid-trial), leaving the live state at the previous step.
 *
 * Chunks here never span two parameters (a parameter is cut every `chunkElements` elements), a
 * simpler layout than the param-server's plan; the optimiser does not care which.
 */
import {
  OptimizerShard,
  gatherCoupling,
  type CouplingRows,
  type OwnedGradients,
  type ParamName,
  type PieceGrads,
  type ShardChunk,
  type ShardedRankGroup,
} from '@mmim/model';
import type { LiveSnapshot, LiveStateSink, TrainerCursor } from '../live.js';
import { MemoryBarrier } from './memory-rank-group.js';

export interface MemoryLiveState {
  cursor: TrainerCursor | null;
  params: Map<ParamName, Float32Array>;
  moments: Map<number, { m: Float32Array; v: Float32Array }>;
  /** Chunks written per publish, for tests that check only owners write. */
  writes: number;
}

export class MemoryShardedGroups {
  readonly live: MemoryLiveState = {
    cursor: null,
    params: new Map(),
    moments: new Map(),
    writes: 0,
  };
  private readonly barrier: MemoryBarrier;
  private chunks: ShardChunk[] | null = null;

  constructor(
    readonly worldSize: number,
    private readonly opts: { chunkElements?: number; failAtPublish?: number } = {},
  ) {
    this.barrier = new MemoryBarrier(worldSize);
  }

  private layout(params: readonly { name: ParamName; size: number }[]): ShardChunk[] {
    const per = this.opts.chunkElements ?? 500;
    const chunks: ShardChunk[] = [];
    for (const p of params) {
      for (let at = 0; at < p.size; at += per) {
        const length = Math.min(per, p.size - at);
        chunks.push({
          index: chunks.length,
          length,
          pieces: [{ name: p.name, paramOffset: at, chunkOffset: 0, length }],
        });
      }
    }
    return chunks;
  }

  private owner(chunk: number): number {
    return chunk % this.worldSize;
  }

  /** The group as rank `r` sees it, with its live-state sink. */
  rank(r: number): ShardedRankGroup & { live: LiveStateSink } {
    let shard: OptimizerShard | null = null;
    let publishes = 0;
    const all = (): ShardChunk[] => {
      if (this.chunks === null) throw new Error('shardFor() first');
      return this.chunks;
    };
    const writeOwned = (
      host: Map<ParamName, Float32Array>,
      names: ReadonlySet<ParamName> | null,
    ) => {
      for (const c of shard?.chunks ?? []) {
        if (names !== null && !c.pieces.some((p) => names.has(p.name))) continue;
        for (const p of c.pieces) {
          const value = host.get(p.name) as Float32Array;
          const stored = this.live.params.get(p.name) ?? new Float32Array(value.length);
          stored.set(value.subarray(p.paramOffset, p.paramOffset + p.length), p.paramOffset);
          this.live.params.set(p.name, stored);
        }
        this.live.moments.set(c.index, {
          m: Float32Array.from(shard?.m.get(c.index) ?? []),
          v: Float32Array.from(shard?.v.get(c.index) ?? []),
        });
        this.live.writes++;
      }
    };
    return {
      shardFor: (params) => {
        this.chunks ??= this.layout(params);
        shard = new OptimizerShard(all().filter((c) => this.owner(c.index) === r));
        return { shard, readMoments: async (names) => this.moments(names) };
      },
      allGather: (rows) =>
        this.barrier.collect(r, rows, (parts: CouplingRows[]) => gatherCoupling(parts)),
      reduceScatter: (grads) =>
        this.barrier.collect(r, grads, (parts: Map<ParamName, Float32Array>[]) =>
          this.reduceFor(r, parts),
        ),
      sumOverRanks: (x) =>
        this.barrier.collect(r, x, (xs: number[]) => xs.reduce((a, b) => a + b, 0)),
      publish: async (changed, host) => {
        publishes++;
        if (this.opts.failAtPublish === publishes)
          throw new Error(`group lost at publish ${publishes} (test)`);
        writeOwned(host, new Set(changed));
        await this.barrier.collect(r, null, () => null);
        // Everyone reads the others' pieces back from the live state.
        for (const name of changed) {
          const stored = this.live.params.get(name);
          if (stored !== undefined) (host.get(name) as Float32Array).set(stored);
        }
      },
      live: {
        writesCursor: r === 0,
        start: async (cursor, host) => {
          writeOwned(host, null);
          await this.barrier.collect(r, null, () => null);
          if (r === 0) this.live.cursor = structuredClone(cursor);
        },
        commit: async (cursor) => {
          if (r === 0) this.live.cursor = structuredClone(cursor);
        },
      },
    };
  }

  /** What a re-formed group (any size) reads back to resume. */
  snapshot(): LiveSnapshot {
    const cursor = this.live.cursor;
    if (cursor === null) throw new Error('no live state recorded');
    return {
      cursor: structuredClone(cursor),
      params: new Map([...this.live.params].map(([k, v]) => [k, Float32Array.from(v)])),
      loadMoments: async (shard) => {
        for (const c of shard.chunks) {
          const mv = this.live.moments.get(c.index);
          if (mv === undefined) throw new Error(`no moments for chunk ${c.index}`);
          shard.m.get(c.index)?.set(mv.m);
          shard.v.get(c.index)?.set(mv.v);
        }
      },
    };
  }

  private async moments(
    names: readonly ParamName[],
  ): Promise<Map<ParamName, { m: Float32Array; v: Float32Array }>> {
    const out = new Map<ParamName, { m: Float32Array; v: Float32Array }>();
    const wanted = new Set(names);
    for (const c of this.chunks ?? []) {
      for (const p of c.pieces) {
        if (!wanted.has(p.name)) continue;
        const mv = this.live.moments.get(c.index);
        if (mv === undefined) throw new Error(`no moments for chunk ${c.index}`);
        const size = p.paramOffset + p.length;
        const slot = out.get(p.name) ?? { m: new Float32Array(0), v: new Float32Array(0) };
        if (slot.m.length < size) {
          const grow = (a: Float32Array) => {
            const b = new Float32Array(size);
            b.set(a);
            return b;
          };
          slot.m = grow(slot.m);
          slot.v = grow(slot.v);
        }
        slot.m.set(mv.m.subarray(p.chunkOffset, p.chunkOffset + p.length), p.paramOffset);
        slot.v.set(mv.v.subarray(p.chunkOffset, p.chunkOffset + p.length), p.paramOffset);
        out.set(p.name, slot);
      }
    }
    return out;
  }

  /** Rank r's owned pieces of every rank's gradients, summed in rank order. */
  private reduceFor(r: number, parts: Map<ParamName, Float32Array>[]): OwnedGradients {
    const names = [...(parts[0]?.keys() ?? [])].sort();
    parts.forEach((p, k) => {
      if ([...p.keys()].sort().join() !== names.join())
        throw new Error(`rank ${k} has gradients for other parameters than rank 0`);
    });
    const owned = new Map<ParamName, PieceGrads>();
    for (const c of this.chunks ?? []) {
      if (this.owner(c.index) !== r) continue;
      for (const p of c.pieces) {
        if (!names.includes(p.name)) continue;
        let acc: Float32Array | null = null;
        for (const part of parts) {
          const g = (part.get(p.name) as Float32Array).subarray(
            p.paramOffset,
            p.paramOffset + p.length,
          );
          if (acc === null) acc = Float32Array.from(g);
          else for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + g[i]!;
        }
        const pieces = owned.get(p.name) ?? new Map<number, Float32Array>();
        pieces.set(p.paramOffset, acc ?? new Float32Array(0));
        owned.set(p.name, pieces);
      }
    }
    return { names, owned };
  }
}
