/**
 * Trial checkpoints kept in Redis, so that any worker on any node can resume a trial and the
 * dashboard can offer the file for download without a shared file system.
 *
 * A checkpoint is an opaque byte string (the trainer's safetensors file) cut into chunks of at
 * most CHECKPOINT_CHUNK_BYTES, each its own key: Redis never holds one huge value that would
 * stall it on read or write. Writes are atomic for readers: the chunks of version n+1 are
 * written first, then one MULTI swaps the pointer hash, then the old chunks are deleted. A
 * reader that sees the pointer sees every chunk it names (it re-reads once if a concurrent
 * write deleted them under it). Every key carries the `{trial:ID}` hash tag (one slot).
 *
 * Attempts are fenced: a worker running attempt n of a trial calls `fence(trial, n)` first, and
 * its writes carry n; a write of an older attempt (a partitioned rank whose link came back after
 * its group was re-formed) is refused with StaleAttemptError and leaves nothing behind. Version
 * numbers come from INCR and the pointer swap is one script, so concurrent writers never mix.
 */
import { createHash } from 'node:crypto';
import type { Redis, Cluster } from 'ioredis';
import { raiseFence, swapCheckpoint } from './scripts.js';
import type { TrialId } from './types.js';

/** A checkpoint write of an attempt older than the trial's newest one. */
export class StaleAttemptError extends Error {
  override readonly name = 'StaleAttemptError';
  constructor(
    readonly trial: TrialId,
    readonly attempt: number,
  ) {
    super(
      `trial ${trial}: attempt ${attempt} may no longer write checkpoints (a newer attempt owns the trial)`,
    );
  }
}

export const CHECKPOINT_CHUNK_BYTES = 4 * 1024 * 1024;

export type CheckpointKind = 'last' | 'best';

export interface CheckpointInfo {
  epoch: number;
  bytes: number;
  sha256: string;
  savedAt: number;
}

export interface StoredCheckpoint extends CheckpointInfo {
  data: Buffer;
}

function checkTrialId(id: TrialId): void {
  if (id.length === 0 || /[{}\s]/.test(id)) {
    throw new Error(
      `invalid trial id ${JSON.stringify(id)}: must be non-empty, no braces or spaces`,
    );
  }
}

export class CheckpointStore {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix = 'mmim:',
  ) {}

  private pointerKey(trial: TrialId, kind: CheckpointKind): string {
    checkTrialId(trial);
    return `${this.prefix}{trial:${trial}}:ckpt:${kind}`;
  }

  private chunkKey(trial: TrialId, kind: CheckpointKind, version: number, i: number): string {
    return `${this.prefix}{trial:${trial}}:ckpt:${kind}:v${version}:${i}`;
  }

  private fenceKey(trial: TrialId): string {
    checkTrialId(trial);
    return `${this.prefix}{trial:${trial}}:ckpt:fence`;
  }

  private sequenceKey(trial: TrialId, kind: CheckpointKind): string {
    return `${this.prefix}{trial:${trial}}:ckpt:${kind}:seq`;
  }

  /**
   * Attempt `attempt` of `trial` has started: from now on writes of older attempts are refused.
   * Returns the trial's newest attempt (higher than `attempt` when a newer one already started:
   * then this one is stale itself).
   */
  async fence(trial: TrialId, attempt: number): Promise<number> {
    return raiseFence(this.redis, this.fenceKey(trial), attempt);
  }

  /**
   * Store a checkpoint. With `attempt`, the write is refused (StaleAttemptError, nothing kept)
   * when a newer attempt of the trial has called fence().
   */
  async put(
    trial: TrialId,
    kind: CheckpointKind,
    data: Uint8Array,
    epoch: number,
    attempt?: number,
  ): Promise<void> {
    const pointer = this.pointerKey(trial, kind);
    const version = await this.redis.incr(this.sequenceKey(trial, kind));
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const chunks = Math.max(1, Math.ceil(buf.length / CHECKPOINT_CHUNK_BYTES));
    for (let i = 0; i < chunks; i++) {
      await this.redis.set(
        this.chunkKey(trial, kind, version, i),
        buf.subarray(i * CHECKPOINT_CHUNK_BYTES, (i + 1) * CHECKPOINT_CHUNK_BYTES),
      );
    }
    const info: Record<string, string> = {
      version: String(version),
      chunks: String(chunks),
      epoch: String(epoch),
      bytes: String(buf.length),
      sha256: createHash('sha256').update(buf).digest('hex'),
      savedAt: String(Date.now()),
    };
    const previous = await swapCheckpoint(
      this.redis,
      pointer,
      this.fenceKey(trial),
      attempt ?? null,
      info,
    );
    // Stale: drop what this write put there; else drop the version it replaced.
    const [dropVersion, dropChunks] =
      previous === 'stale' ? [version, chunks] : [previous.version, previous.chunks];
    for (let i = 0; i < dropChunks; i++) {
      await this.redis.del(this.chunkKey(trial, kind, dropVersion, i));
    }
    if (previous === 'stale') throw new StaleAttemptError(trial, attempt ?? 0);
  }

  async info(trial: TrialId, kind: CheckpointKind): Promise<CheckpointInfo | null> {
    const h = await this.redis.hgetall(this.pointerKey(trial, kind));
    if (h.version === undefined) return null;
    return {
      epoch: Number(h.epoch),
      bytes: Number(h.bytes),
      sha256: h.sha256 ?? '',
      savedAt: Number(h.savedAt),
    };
  }

  /** The newest complete checkpoint, verified against its sha256; null when none was stored. */
  async get(trial: TrialId, kind: CheckpointKind): Promise<StoredCheckpoint | null> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const h = await this.redis.hgetall(this.pointerKey(trial, kind));
      if (h.version === undefined) return null;
      const version = Number(h.version);
      const chunks = Number(h.chunks);
      const parts: Buffer[] = [];
      let missing = false;
      for (let i = 0; i < chunks; i++) {
        const part = await this.redis.getBuffer(this.chunkKey(trial, kind, version, i));
        if (part === null) {
          missing = true;
          break;
        }
        parts.push(part);
      }
      if (missing) continue; // replaced while we read: read the new one
      const data = Buffer.concat(parts);
      const sha256 = createHash('sha256').update(data).digest('hex');
      if (sha256 !== h.sha256 || data.length !== Number(h.bytes)) {
        throw new Error(
          `checkpoint ${kind} of trial ${trial} is corrupt in Redis: ${data.length} bytes with sha256 ${sha256}, expected ${h.bytes} bytes with ${h.sha256}`,
        );
      }
      return {
        data,
        epoch: Number(h.epoch),
        bytes: data.length,
        sha256,
        savedAt: Number(h.savedAt),
      };
    }
    throw new Error(`checkpoint ${kind} of trial ${trial} kept changing while being read`);
  }

  /**
   * A checkpoint read chunk by chunk (one chunk in memory at a time), for downloads of
   * checkpoints too large to hold whole. The sha256 is checked as the chunks pass: the
   * iterator throws at the end on a mismatch, and throws at once when the version it started
   * reading is replaced underneath it (the caller aborts the download; a retry gets the new one).
   */
  async open(
    trial: TrialId,
    kind: CheckpointKind,
  ): Promise<(CheckpointInfo & { chunks: () => AsyncGenerator<Buffer> }) | null> {
    const h = await this.redis.hgetall(this.pointerKey(trial, kind));
    if (h.version === undefined) return null;
    const version = Number(h.version);
    const count = Number(h.chunks);
    const expected = h.sha256 ?? '';
    const chunks = async function* (this: CheckpointStore): AsyncGenerator<Buffer> {
      const hash = createHash('sha256');
      for (let i = 0; i < count; i++) {
        const part = await this.redis.getBuffer(this.chunkKey(trial, kind, version, i));
        if (part === null) {
          throw new Error(`checkpoint ${kind} of trial ${trial} was replaced while being read`);
        }
        hash.update(part);
        yield part;
      }
      const sha256 = hash.digest('hex');
      if (sha256 !== expected) {
        throw new Error(
          `checkpoint ${kind} of trial ${trial} is corrupt in Redis: sha256 ${sha256}, expected ${expected}`,
        );
      }
    }.bind(this);
    return {
      epoch: Number(h.epoch),
      bytes: Number(h.bytes),
      sha256: expected,
      savedAt: Number(h.savedAt),
      chunks,
    };
  }

  async delete(trial: TrialId): Promise<void> {
    for (const kind of ['last', 'best'] as const) {
      const pointer = this.pointerKey(trial, kind);
      const h = await this.redis.hgetall(pointer);
      await this.redis.del(pointer);
      for (let i = 0; i < Number(h.chunks ?? 0); i++) {
        await this.redis.del(this.chunkKey(trial, kind, Number(h.version), i));
      }
      await this.redis.del(this.sequenceKey(trial, kind));
    }
    await this.redis.del(this.fenceKey(trial));
  }
}
