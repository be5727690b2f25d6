/**
 * Trial checkpoints: the bytes in the run's artifact store (a directory, an S3 bucket, or Redis
 * for small ones: @mmim/artifacts), the pointer to them in Redis, so that any worker on any node
 * can resume a trial and the dashboard can offer the file for download.
 *
 * A checkpoint version is an artifact under `trials/<trial>/<kind>/v<n>.safetensors` (n from
 * INCR), written whole and sha256-checked by the store; then one script swaps the pointer hash
 * `{trial:ID}:ckpt:<kind>` (store scheme, key, epoch, bytes, sha256, savedAt, attempt) and the
 * replaced version is deleted. A reader that sees the pointer finds the artifact it names (it
 * re-reads once if a concurrent write deleted it under it). A writer that dies before the swap
 * leaves an artifact no pointer names: the retention GC removes those (orphans). Every Redis key
 * carries the `{trial:ID}` hash tag (one slot).
 *
 * Attempts are fenced: a worker running attempt n of a trial calls `fence(trial, n)` first, and
 * its writes carry n; a write of an older attempt (a partitioned rank whose link came back after
 * its group was re-formed) is refused with StaleAttemptError and leaves nothing behind: the fence
 * is checked in the same script that swaps the pointer, so a stale write never replaces a newer
 * attempt's checkpoint, whichever store holds the bytes.
 */
import { createHash } from 'node:crypto';
import type { Redis, Cluster } from 'ioredis';
import type { ArtifactScheme, ArtifactStore } from '@mmim/artifacts';
import { ArtifactStoreResolver } from './checkpoint-artifacts.js';
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

/** Kept for callers that size things by it: the Redis artifact store's chunk size. */
export const CHECKPOINT_CHUNK_BYTES = 4 * 1024 * 1024;

export type CheckpointKind = 'last' | 'best';
export const CHECKPOINT_KINDS: readonly CheckpointKind[] = ['last', 'best'];

export interface CheckpointInfo {
  epoch: number;
  bytes: number;
  sha256: string;
  savedAt: number;
  /** Which kind of artifact store holds the bytes. */
  store: ArtifactScheme;
  /**
   * The artifact's key, relative to that store; '' for a checkpoint written before artifact
   * stores (its chunks in Redis under the trial's hash tag), which is still read and replaced.
   */
  key: string;
  /** The attempt that wrote it (0: an unfenced write). */
  attempt: number;
}

export interface StoredCheckpoint extends CheckpointInfo {
  data: Buffer;
}

export interface CheckpointStoreOptions {
  /**
   * Where new checkpoints go. Default: the store the coordinator published in Redis
   * (publishArtifactStore), else this Redis, uncapped (what deployments without --artifacts
   * did before artifact stores; the coordinator warns).
   */
  artifacts?: ArtifactStore;
}

function checkTrialId(id: TrialId): void {
  if (id.length === 0 || /[{}\s]/.test(id)) {
    throw new Error(
      `invalid trial id ${JSON.stringify(id)}: must be non-empty, no braces or spaces`,
    );
  }
}

/** A trial id as one artifact key segment: [A-Za-z0-9-] kept, anything else as _hex. */
export function trialKeySegment(id: TrialId): string {
  return id.replace(/[^A-Za-z0-9-]/g, (c) => `_${c.codePointAt(0)?.toString(16) ?? ''}`);
}

/** Where a trial's checkpoints live in the artifact store (all versions of both kinds). */
export const trialArtifactPrefix = (trial: TrialId): string => `trials/${trialKeySegment(trial)}/`;

function parseInfo(h: Record<string, string>): CheckpointInfo | null {
  if (h.version === undefined) return null;
  return {
    epoch: Number(h.epoch),
    bytes: Number(h.bytes),
    sha256: h.sha256 ?? '',
    savedAt: Number(h.savedAt),
    store: (h.store ?? 'redis') as ArtifactScheme,
    key: h.key ?? '',
    attempt: Number(h.attempt ?? 0),
  };
}

/**
 * A pointer written before artifact stores: its chunks sit in Redis under the trial's own hash
 * tag (`<pointer>:v<version>:<i>`), and it has no `key`. Read, replaced and deleted as such, so
 * an upgrade resumes paused trials from their checkpoints.
 */
interface LegacyPointer {
  version: number;
  chunks: number;
}

function legacyOf(h: Record<string, string>): LegacyPointer | null {
  if (h.version === undefined || h.key !== undefined) return null;
  return { version: Number(h.version), chunks: Number(h.chunks ?? 0) };
}

export class CheckpointStore {
  private readonly stores: ArtifactStoreResolver;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix = 'mmim:',
    options: CheckpointStoreOptions = {},
  ) {
    this.stores = new ArtifactStoreResolver(redis, prefix, options.artifacts ?? null);
  }

  private pointerKey(trial: TrialId, kind: CheckpointKind): string {
    checkTrialId(trial);
    return `${this.prefix}{trial:${trial}}:ckpt:${kind}`;
  }

  private fenceKey(trial: TrialId): string {
    checkTrialId(trial);
    return `${this.prefix}{trial:${trial}}:ckpt:fence`;
  }

  private sequenceKey(trial: TrialId, kind: CheckpointKind): string {
    return `${this.prefix}{trial:${trial}}:ckpt:${kind}:seq`;
  }

  private legacyChunkKeys(trial: TrialId, kind: CheckpointKind, legacy: LegacyPointer): string[] {
    const pointer = this.pointerKey(trial, kind);
    return Array.from({ length: legacy.chunks }, (_, i) => `${pointer}:v${legacy.version}:${i}`);
  }

  /** A legacy checkpoint's chunks, one at a time, sha256-checked at the end. */
  private async *legacyChunks(
    trial: TrialId,
    kind: CheckpointKind,
    legacy: LegacyPointer,
    sha256: string,
  ): AsyncGenerator<Buffer> {
    const hash = createHash('sha256');
    for (const key of this.legacyChunkKeys(trial, kind, legacy)) {
      const part = await this.redis.getBuffer(key);
      if (part === null) {
        throw new Error(`checkpoint ${kind} of trial ${trial} was replaced while being read`);
      }
      hash.update(part);
      yield part;
    }
    const got = hash.digest('hex');
    if (got !== sha256) {
      throw new Error(
        `checkpoint ${kind} of trial ${trial} is corrupt in Redis: sha256 ${got}, expected ${sha256}`,
      );
    }
  }

  /** True when no artifact store was chosen (explicitly or published): Redis, uncapped. */
  async unconfigured(): Promise<boolean> {
    return this.stores.unconfigured();
  }

  /** The store new checkpoints go to (for logs and the GC). */
  async target(): Promise<ArtifactStore> {
    return this.stores.target();
  }

  /** The store a checkpoint's pointer names. */
  async storeOf(info: Pick<CheckpointInfo, 'store'>, what: string): Promise<ArtifactStore> {
    return this.stores.source(info.store, what);
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
    const store = await this.stores.target();
    const key = `${trialArtifactPrefix(trial)}${kind}/v${version}.safetensors`;
    const written = await store.put(key, data);
    const info: Record<string, string> = {
      version: String(version),
      store: store.scheme,
      key,
      epoch: String(epoch),
      bytes: String(written.bytes),
      sha256: written.sha256,
      savedAt: String(written.savedAt),
      attempt: String(attempt ?? 0),
    };
    const legacy = legacyOf(await this.redis.hgetall(pointer));
    const previous = await swapCheckpoint(
      this.redis,
      pointer,
      this.fenceKey(trial),
      attempt ?? null,
      info,
    );
    if (previous !== 'stale' && legacy !== null) {
      await this.redis.del(...this.legacyChunkKeys(trial, kind, legacy));
    }
    if (previous === 'stale') {
      await store.delete(key);
      throw new StaleAttemptError(trial, attempt ?? 0);
    }
    if (previous !== null && previous.key !== key) {
      // Best effort: a version that cannot be deleted now is an orphan the GC removes later.
      await this.stores
        .source(previous.store, `checkpoint ${kind} of trial ${trial}`)
        .then((s) => s.delete(previous.key))
        .catch(() => undefined);
    }
  }

  async info(trial: TrialId, kind: CheckpointKind): Promise<CheckpointInfo | null> {
    return parseInfo(await this.redis.hgetall(this.pointerKey(trial, kind)));
  }

  /** The newest complete checkpoint, verified against its sha256; null when none was stored. */
  async get(trial: TrialId, kind: CheckpointKind): Promise<StoredCheckpoint | null> {
    const what = `checkpoint ${kind} of trial ${trial}`;
    for (let attempt = 0; attempt < 3; attempt++) {
      const h = await this.redis.hgetall(this.pointerKey(trial, kind));
      const info = parseInfo(h);
      if (info === null) return null;
      const legacy = legacyOf(h);
      if (legacy !== null) {
        const parts: Buffer[] = [];
        try {
          for await (const p of this.legacyChunks(trial, kind, legacy, info.sha256)) parts.push(p);
        } catch (err) {
          if (/replaced while being read/.test(String(err))) continue;
          throw err;
        }
        return { ...info, data: Buffer.concat(parts) };
      }
      const store = await this.stores.source(info.store, what);
      const got = await store.get(info.key);
      if (got === null) continue; // replaced while we read: read the new one
      if (got.sha256 !== info.sha256 || got.data.length !== info.bytes) {
        throw new Error(
          `${what} is corrupt in ${store.location}: ${got.data.length} bytes with sha256 ${got.sha256}, expected ${info.bytes} bytes with ${info.sha256}`,
        );
      }
      return { ...info, data: got.data };
    }
    throw new Error(`${what} kept changing while being read`);
  }

  /**
   * A checkpoint read chunk by chunk (one chunk in memory at a time), for downloads of
   * checkpoints too large to hold whole. The sha256 is checked as the chunks pass: the
   * iterator throws at the end on a mismatch, and throws when the version it started reading
   * is replaced underneath it (the caller aborts the download; a retry gets the new one).
   */
  async open(
    trial: TrialId,
    kind: CheckpointKind,
  ): Promise<(CheckpointInfo & { chunks: () => AsyncGenerator<Buffer> }) | null> {
    const what = `checkpoint ${kind} of trial ${trial}`;
    const h = await this.redis.hgetall(this.pointerKey(trial, kind));
    const info = parseInfo(h);
    if (info === null) return null;
    const legacy = legacyOf(h);
    if (legacy !== null) {
      return { ...info, chunks: () => this.legacyChunks(trial, kind, legacy, info.sha256) };
    }
    const store = await this.stores.source(info.store, what);
    const opened = await store.open(info.key);
    const chunks = async function* (): AsyncGenerator<Buffer> {
      if (opened === null) throw new Error(`${what} was replaced while being read`);
      if (opened.sha256 !== info.sha256) {
        throw new Error(
          `${what} is corrupt in ${store.location}: sha256 ${opened.sha256}, expected ${info.sha256}`,
        );
      }
      yield* opened.chunks();
    };
    return { ...info, chunks };
  }

  /** Deletes a trial's checkpoints (both kinds by default) and, with both, its fence. */
  async delete(
    trial: TrialId,
    kinds: readonly CheckpointKind[] = CHECKPOINT_KINDS,
  ): Promise<number> {
    let freed = 0;
    for (const kind of kinds) {
      const pointer = this.pointerKey(trial, kind);
      const h = await this.redis.hgetall(pointer);
      const info = parseInfo(h);
      const legacy = legacyOf(h);
      await this.redis.del(pointer);
      if (legacy !== null) {
        if (legacy.chunks > 0) await this.redis.del(...this.legacyChunkKeys(trial, kind, legacy));
        freed += info?.bytes ?? 0;
      } else if (info !== null) {
        const store = await this.stores.source(info.store, `checkpoint ${kind} of trial ${trial}`);
        if (await store.delete(info.key)) freed += info.bytes;
      }
      if (kinds.length === CHECKPOINT_KINDS.length)
        await this.redis.del(this.sequenceKey(trial, kind));
    }
    if (kinds.length === CHECKPOINT_KINDS.length) await this.redis.del(this.fenceKey(trial));
    return freed;
  }

  /** Closes the artifact stores it opened from the published setting. */
  async close(): Promise<void> {
    await this.stores.close();
  }
}
