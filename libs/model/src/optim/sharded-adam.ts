/**
 * The owner-sharded form of torch.optim.Adam (ZeRO stage 1/2 over a parameter server): the
 * model's trainable parameters are laid end to end and cut into chunks (the param-server's chunk
 * plan); each chunk is owned by one rank, which alone keeps that chunk's Adam moments and applies
 * the update to it. Every rank still counts every parameter's steps (the rule "a None gradient is
 * not stepped" is decided from the parameter names, which every rank shares), so the step counts
 * need no exchange and the update of an owned slice is exactly `adamUpdate` on that slice: the
 * same float operations, element for element, as one worker stepping the whole tensor.
 *
 * The bookkeeping is AdamRules' (the one definition); only where a slot's moments live differs:
 * here they are views into the owned chunks' moment buffers, which the rank group publishes to
 * the live state in Redis after each step.
 */
import {
  AdamRules,
  adamUpdate,
  type AdamGroup,
  type AdamOptimizer,
  type AdamSlot,
} from './adam.js';
import type { ParamName } from '../params.js';

/** A run of one parameter's elements inside one chunk (the param-server's ChunkPiece). */
export interface ShardPiece {
  name: ParamName;
  /** First element of the piece within the parameter (flattened). */
  paramOffset: number;
  /** First element of the piece within the chunk. */
  chunkOffset: number;
  length: number;
}

/** One chunk of the flattened parameters (the param-server's ChunkInfo). */
export interface ShardChunk {
  index: number;
  length: number;
  pieces: readonly ShardPiece[];
}

/** Gradients of the owned pieces of one parameter, keyed by `paramOffset`. */
export type PieceGrads = Map<number, Float32Array>;

/**
 * What one rank owns: its chunks and their Adam moments (one m and one v buffer per chunk,
 * shared by both stages' optimisers, since a chunk may hold parameters of both).
 */
export class OptimizerShard {
  readonly chunks: readonly ShardChunk[];
  readonly m = new Map<number, Float32Array>();
  readonly v = new Map<number, Float32Array>();
  private readonly byParam = new Map<ParamName, { chunk: ShardChunk; piece: ShardPiece }[]>();

  constructor(owned: readonly ShardChunk[]) {
    this.chunks = owned;
    for (const c of owned) {
      this.m.set(c.index, new Float32Array(c.length));
      this.v.set(c.index, new Float32Array(c.length));
      for (const piece of c.pieces) {
        const list = this.byParam.get(piece.name) ?? [];
        list.push({ chunk: c, piece });
        this.byParam.set(piece.name, list);
      }
    }
  }

  /** The owned pieces of `name` (empty when another rank owns all of it). */
  piecesOf(name: ParamName): readonly { chunk: ShardChunk; piece: ShardPiece }[] {
    return this.byParam.get(name) ?? [];
  }

  /** Parameters with at least one owned piece. */
  ownedParams(): ParamName[] {
    return [...this.byParam.keys()];
  }

  /** The owned pieces of a whole-tensor gradient (views, no copy). */
  slice(name: ParamName, full: Float32Array): PieceGrads {
    const out: PieceGrads = new Map();
    for (const { piece } of this.piecesOf(name))
      out.set(
        piece.paramOffset,
        full.subarray(piece.paramOffset, piece.paramOffset + piece.length),
      );
    return out;
  }

  /** Views of the moments of one owned piece. */
  moments(chunk: ShardChunk, piece: ShardPiece): { m: Float32Array; v: Float32Array } {
    const at = (buf: Map<number, Float32Array>): Float32Array =>
      (buf.get(chunk.index) as Float32Array).subarray(
        piece.chunkOffset,
        piece.chunkOffset + piece.length,
      );
    return { m: at(this.m), v: at(this.v) };
  }
}

/** Reads every parameter's moments (all ranks' pieces), e.g. from the live state in Redis. */
export type MomentReader = (
  params: readonly ParamName[],
) => Promise<Map<ParamName, { m: Float32Array; v: Float32Array }>>;

interface ShardSlot {
  step: number;
}

/**
 * torch.optim.Adam for one stage's groups, stepping only the owned pieces. `step` takes, for
 * every parameter with a gradient (every rank passes the same names), the owned pieces' summed
 * gradients (an empty map on ranks that own none of it): every rank counts the step.
 */
export class ShardedAdam extends AdamRules<PieceGrads, ShardSlot> implements AdamOptimizer {
  constructor(
    groups: AdamGroup[],
    readonly shard: OptimizerShard,
    private readonly readMoments: MomentReader,
  ) {
    super(groups);
  }

  /**
   * Step every parameter with a gradient; the owned pieces of `values` (whole host tensors) are
   * updated in place. Returns the names stepped (on every rank).
   */
  step(
    values: Map<ParamName, Float32Array>,
    grads: Map<ParamName, PieceGrads | undefined>,
    gradScale = 1,
  ): ParamName[] {
    return this.forEachStepped(
      grads,
      () => ({ step: 0 }),
      (name, pieceGrads, slot, hyper) => {
        const param = values.get(name);
        if (param === undefined) throw new Error(`Adam: no value for parameter '${name}'`);
        for (const { chunk, piece } of this.shard.piecesOf(name)) {
          const g = pieceGrads.get(piece.paramOffset);
          if (g === undefined)
            throw new Error(`sharded Adam: no gradient for '${name}' at ${piece.paramOffset}`);
          const view = param.subarray(piece.paramOffset, piece.paramOffset + piece.length);
          adamUpdate(
            view,
            g,
            { ...this.shard.moments(chunk, piece), step: slot.step },
            hyper,
            gradScale,
          );
        }
      },
    );
  }

  /** Every parameter's state: the step counts held here, the moments read from their owners. */
  async readSlots(): Promise<Map<ParamName, AdamSlot>> {
    const stepped = [...this.slots.keys()];
    const moments = await this.readMoments(stepped);
    const out = new Map<ParamName, AdamSlot>();
    for (const name of stepped) {
      const mv = moments.get(name);
      if (mv === undefined) throw new Error(`sharded Adam: no moments found for '${name}'`);
      out.set(name, { m: mv.m, v: mv.v, step: this.slots.get(name)?.step ?? 0 });
    }
    return out;
  }

  /** Takes the step counts of all, and the moments of the owned pieces (a checkpoint's). */
  writeSlots(slots: Map<ParamName, AdamSlot>): void {
    this.slots.clear();
    for (const [name, s] of slots) {
      this.slots.set(name, { step: s.step });
      for (const { chunk, piece } of this.shard.piecesOf(name)) {
        const { m, v } = this.shard.moments(chunk, piece);
        m.set(s.m.subarray(piece.paramOffset, piece.paramOffset + piece.length));
        v.set(s.v.subarray(piece.paramOffset, piece.paramOffset + piece.length));
      }
    }
  }

  /** Step counts only (resuming from the live state, whose moments are already in the shard). */
  writeStepCounts(steps: Record<ParamName, number>): void {
    this.slots.clear();
    for (const name of this.params()) {
      const step = steps[name];
      if (step !== undefined) this.slots.set(name, { step });
    }
  }

  /** Step counts of the parameters stepped so far. */
  stepCounts(): Record<ParamName, number> {
    return Object.fromEntries([...this.slots].map(([k, s]) => [k, s.step]));
  }

  dispose(): void {
    this.slots.clear();
  }
}
