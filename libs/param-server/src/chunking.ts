/**
 * Splitting a model's parameters into fixed-size float32 chunks.
 *
 * The parameters are laid end to end in their given order and cut every `chunkBytes`, so a big
 * parameter spans several chunks and small ones share a chunk. Every chunk but the last is
 * exactly `chunkBytes`: Redis then never holds a value bigger than that (a 64 MB value blocks
 * the server for ~0.3 s), and round-robin ownership is already balanced.
 */

export const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;

export interface ParamSpec {
  name: string;
  /** Number of float32 elements. */
  size: number;
}

/** A run of one parameter's elements inside one chunk. */
export interface ChunkPiece {
  name: string;
  /** First element of the piece within the parameter. */
  paramOffset: number;
  /** First element of the piece within the chunk. */
  chunkOffset: number;
  length: number;
}

export interface ChunkInfo {
  index: number;
  /** First element of the chunk in the concatenation of all parameters. */
  start: number;
  /** Number of float32 elements. */
  length: number;
  pieces: ChunkPiece[];
}

export interface ChunkPlan {
  chunkBytes: number;
  params: readonly ParamSpec[];
  totalElements: number;
  chunks: readonly ChunkInfo[];
}

/** How chunks are assigned to ranks; every rank of a trial must use the same one. */
export type OwnershipStrategy = 'round-robin' | 'balanced';

export function makeChunkPlan(
  params: readonly ParamSpec[],
  chunkBytes: number = DEFAULT_CHUNK_BYTES,
): ChunkPlan {
  if (!Number.isInteger(chunkBytes) || chunkBytes < 4 || chunkBytes % 4 !== 0) {
    throw new Error(`chunkBytes must be a positive multiple of 4, got ${chunkBytes}`);
  }
  const names = new Set<string>();
  for (const p of params) {
    if (names.has(p.name)) throw new Error(`duplicate parameter name ${p.name}`);
    names.add(p.name);
    if (!Number.isInteger(p.size) || p.size < 0) {
      throw new Error(`parameter ${p.name} has invalid size ${p.size}`);
    }
  }
  const perChunk = chunkBytes / 4;
  const chunks: ChunkInfo[] = [];
  let total = 0;
  for (const p of params) {
    let done = 0;
    while (done < p.size) {
      let chunk = chunks[chunks.length - 1];
      if (!chunk || chunk.length === perChunk) {
        chunk = { index: chunks.length, start: total, length: 0, pieces: [] };
        chunks.push(chunk);
      }
      const n = Math.min(p.size - done, perChunk - chunk.length);
      chunk.pieces.push({ name: p.name, paramOffset: done, chunkOffset: chunk.length, length: n });
      chunk.length += n;
      done += n;
      total += n;
    }
  }
  return {
    chunkBytes,
    params: params.map((p) => ({ name: p.name, size: p.size })),
    totalElements: total,
    chunks,
  };
}

/** Copy named parameter values into one buffer per chunk. Every parameter must be present. */
export function scatterToChunks(
  plan: ChunkPlan,
  values: ReadonlyMap<string, Float32Array>,
): Float32Array[] {
  for (const p of plan.params) {
    const v = values.get(p.name);
    if (!v) throw new Error(`missing parameter ${p.name}`);
    if (v.length !== p.size) {
      throw new Error(`parameter ${p.name} has ${v.length} elements, plan says ${p.size}`);
    }
  }
  return plan.chunks.map((c) => {
    const out = new Float32Array(c.length);
    for (const piece of c.pieces) {
      const src = values.get(piece.name) as Float32Array; // checked above
      out.set(src.subarray(piece.paramOffset, piece.paramOffset + piece.length), piece.chunkOffset);
    }
    return out;
  });
}

/** Reassemble named parameters from chunk buffers (the inverse of scatterToChunks). */
export function gatherFromChunks(
  plan: ChunkPlan,
  chunks: readonly Float32Array[],
): Map<string, Float32Array> {
  if (chunks.length !== plan.chunks.length) {
    throw new Error(`got ${chunks.length} chunks, plan has ${plan.chunks.length}`);
  }
  const out = new Map<string, Float32Array>();
  for (const p of plan.params) out.set(p.name, new Float32Array(p.size));
  for (const c of plan.chunks) {
    const buf = chunks[c.index];
    if (!buf || buf.length !== c.length) {
      throw new Error(`chunk ${c.index} has ${buf?.length ?? 0} elements, plan says ${c.length}`);
    }
    for (const piece of c.pieces) {
      const dst = out.get(piece.name) as Float32Array;
      dst.set(buf.subarray(piece.chunkOffset, piece.chunkOffset + piece.length), piece.paramOffset);
    }
  }
  return out;
}

/**
 * Owner rank of every chunk.
 *
 * - `round-robin`: chunk c belongs to rank `c % worldSize`. Since all chunks but the last have the
 *   same size, this is within one chunk of perfectly balanced, and needs no state.
 * - `balanced`: greedy largest-first by bytes, ties to the lowest rank. Only differs when chunk
 *   sizes differ (the short last chunk), kept for plans built with other cut rules.
 */
export function assignOwners(
  plan: ChunkPlan,
  worldSize: number,
  strategy: OwnershipStrategy = 'round-robin',
): number[] {
  if (!Number.isInteger(worldSize) || worldSize < 1) {
    throw new Error(`worldSize must be a positive integer, got ${worldSize}`);
  }
  if (strategy === 'round-robin') return plan.chunks.map((c) => c.index % worldSize);
  const load = new Array<number>(worldSize).fill(0);
  const owners = new Array<number>(plan.chunks.length).fill(0);
  const order = [...plan.chunks].sort((a, b) => b.length - a.length || a.index - b.index);
  for (const c of order) {
    let best = 0;
    for (let r = 1; r < worldSize; r++) if ((load[r] ?? 0) < (load[best] ?? 0)) best = r;
    owners[c.index] = best;
    load[best] = (load[best] ?? 0) + c.length * 4;
  }
  return owners;
}

/** The chunk indices `rank` owns, ascending. */
export function ownedChunks(
  plan: ChunkPlan,
  rank: number,
  worldSize: number,
  strategy: OwnershipStrategy = 'round-robin',
): number[] {
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) {
    throw new Error(`rank ${rank} is outside world size ${worldSize}`);
  }
  const owners = assignOwners(plan, worldSize, strategy);
  const out: number[] = [];
  owners.forEach((o, c) => {
    if (o === rank) out.push(c);
  });
  return out;
}
