/**
 * Artifacts in Redis, for small checkpoints only: Redis also holds the queue, the record and the
 * exchange, and a full Redis fails all of them. A put larger than `maxBytes` is refused before
 * anything is written (ArtifactTooLargeError, naming the cap and what to use instead).
 *
 * Layout (every key of one artifact shares the `{art:KEY}` hash tag, so one Cluster slot):
 *   <prefix>{art:KEY}           hash: version, chunks, bytes, sha256, savedAt
 *   <prefix>{art:KEY}:v<n>:<i>  chunk i of version n (at most CHUNK_BYTES)
 *   <prefix>{art:KEY}:seq       version counter
 * A put writes its chunks with a TTL, then one script checks they are all there, drops their
 * TTL and swaps the pointer; then the replaced version's chunks are deleted. A writer that dies
 * part-way leaves chunks that expire by themselves, and nothing a reader sees.
 */
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { bodyChunks, checkExpected, readAll, verified } from './body.js';
import {
  checkArtifactKey,
  checkArtifactPrefix,
  ArtifactTooLargeError,
  type ArtifactBody,
  type ArtifactInfo,
  type ArtifactStore,
  type OpenedArtifact,
  type PutOptions,
  type StoredArtifact,
} from './store.js';

export const REDIS_ARTIFACT_CHUNK_BYTES = 4 * 1024 * 1024;
/** The default cap: a checkpoint of the small test models fits; BERT-base (440 MB+) does not. */
export const REDIS_ARTIFACT_DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
/** How long a written-but-not-yet-committed chunk lives (a put slower than this fails). */
const PENDING_CHUNK_TTL_MS = 60 * 60 * 1000;

/**
 * KEYS[1]   the artifact's pointer hash
 * KEYS[2..] the new version's chunk keys
 * ARGV      the new pointer's fields, as field, value, ...
 * Returns {previous version, previous chunks} ('' when none), or -1 when a chunk expired.
 */
const COMMIT_SCRIPT = `
for i = 2, #KEYS do
  if redis.call('PERSIST', KEYS[i]) == 0 and redis.call('EXISTS', KEYS[i]) == 0 then return -1 end
end
local previous = redis.call('HMGET', KEYS[1], 'version', 'chunks')
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV))
return {previous[1] or '', previous[2] or ''}
`;
const COMMIT_SHA = createHash('sha1').update(COMMIT_SCRIPT).digest('hex');

async function runScript(redis: Redis | Cluster, keys: string[], args: string[]): Promise<unknown> {
  try {
    return await redis.evalsha(COMMIT_SHA, keys.length, ...keys, ...args);
  } catch (err) {
    if (!String((err as Error).message).includes('NOSCRIPT')) throw err;
    return redis.eval(COMMIT_SCRIPT, keys.length, ...keys, ...args);
  }
}

export interface RedisArtifactStoreOptions {
  /** Key prefix; default 'mmim:'. */
  prefix?: string;
  /** Largest artifact accepted, in bytes; default REDIS_ARTIFACT_DEFAULT_MAX_BYTES. */
  maxBytes?: number;
}

export class RedisArtifactStore implements ArtifactStore {
  readonly scheme = 'redis' as const;
  readonly location: string;
  readonly maxBytes: number;
  private readonly prefix: string;

  constructor(
    private readonly redis: Redis | Cluster,
    options: RedisArtifactStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? 'mmim:';
    this.maxBytes = options.maxBytes ?? REDIS_ARTIFACT_DEFAULT_MAX_BYTES;
    if (!Number.isInteger(this.maxBytes) || this.maxBytes <= 0) {
      throw new Error(
        `redis artifact store: maxBytes must be a positive integer, got ${this.maxBytes}`,
      );
    }
    this.location = `redis (prefix ${this.prefix}, max ${this.maxBytes} bytes)`;
  }

  private pointerKey(key: string): string {
    checkArtifactKey(key);
    return `${this.prefix}{art:${key}}`;
  }

  private chunkKey(key: string, version: number, i: number): string {
    return `${this.pointerKey(key)}:v${version}:${i}`;
  }

  async put(key: string, body: ArtifactBody, options: PutOptions = {}): Promise<ArtifactInfo> {
    const pointer = this.pointerKey(key);
    if (body instanceof Uint8Array && body.length > this.maxBytes) {
      throw new ArtifactTooLargeError(this.location, key, body.length, this.maxBytes);
    }
    const version = await this.redis.incr(`${pointer}:seq`);
    const written: string[] = [];
    const hash = createHash('sha256');
    let bytes = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async (): Promise<void> => {
      const chunkKey = this.chunkKey(key, version, written.length);
      await this.redis.set(
        chunkKey,
        Buffer.concat(pending, pendingBytes),
        'PX',
        PENDING_CHUNK_TTL_MS,
      );
      written.push(chunkKey);
      pending = [];
      pendingBytes = 0;
    };
    try {
      for await (const chunk of bodyChunks(body)) {
        bytes += chunk.length;
        if (bytes > this.maxBytes) {
          throw new ArtifactTooLargeError(this.location, key, bytes, this.maxBytes);
        }
        hash.update(chunk);
        let rest = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        while (rest.length > 0) {
          const take = Math.min(rest.length, REDIS_ARTIFACT_CHUNK_BYTES - pendingBytes);
          // Copy: the caller may reuse its chunk once yielded.
          pending.push(Buffer.from(rest.subarray(0, take)));
          pendingBytes += take;
          rest = rest.subarray(take);
          if (pendingBytes === REDIS_ARTIFACT_CHUNK_BYTES) await flush();
        }
      }
      if (pendingBytes > 0 || written.length === 0) await flush();
      const sha256 = hash.digest('hex');
      checkExpected(key, options.sha256, sha256);
      const savedAt = Date.now();
      const fields = {
        version: String(version),
        chunks: String(written.length),
        bytes: String(bytes),
        sha256,
        savedAt: String(savedAt),
      };
      const previous = await runScript(
        this.redis,
        [pointer, ...written],
        Object.entries(fields).flat(),
      );
      if (previous === -1) {
        throw new Error(
          `artifact ${key} in ${this.location}: the write took longer than ${PENDING_CHUNK_TTL_MS} ms and its chunks expired`,
        );
      }
      const [pv = '', pc = ''] = previous as [string, string];
      for (let i = 0; i < Number(pc || 0); i++)
        await this.redis.del(this.chunkKey(key, Number(pv), i));
      return { key, bytes, sha256, savedAt };
    } catch (err) {
      for (const k of written) await this.redis.del(k).catch(() => undefined);
      throw err;
    }
  }

  async info(key: string): Promise<ArtifactInfo | null> {
    const h = await this.redis.hgetall(this.pointerKey(key));
    if (h.version === undefined) return null;
    return { key, bytes: Number(h.bytes), sha256: h.sha256 ?? '', savedAt: Number(h.savedAt) };
  }

  async open(key: string): Promise<OpenedArtifact | null> {
    const h = await this.redis.hgetall(this.pointerKey(key));
    if (h.version === undefined) return null;
    const version = Number(h.version);
    const count = Number(h.chunks);
    const info = {
      key,
      bytes: Number(h.bytes),
      sha256: h.sha256 ?? '',
      savedAt: Number(h.savedAt),
    };
    const redis = this.redis;
    const chunkKey = (i: number): string => this.chunkKey(key, version, i);
    const location = this.location;
    async function* source(): AsyncGenerator<Buffer> {
      for (let i = 0; i < count; i++) {
        const part = await redis.getBuffer(chunkKey(i));
        if (part === null) throw new ReplacedWhileReading(location, key);
        yield part;
      }
    }
    return { ...info, chunks: () => verified(location, key, info, source()) };
  }

  async get(key: string): Promise<StoredArtifact | null> {
    for (let attempt = 0; ; attempt++) {
      const opened = await this.open(key);
      if (opened === null) return null;
      try {
        return await readAll(opened);
      } catch (err) {
        // Replaced while we read: read the new version.
        if (!(err instanceof ReplacedWhileReading) || attempt >= 2) throw err;
      }
    }
  }

  async delete(key: string): Promise<boolean> {
    const pointer = this.pointerKey(key);
    const h = await this.redis.hgetall(pointer);
    await this.redis.del(pointer, `${pointer}:seq`);
    for (let i = 0; i < Number(h.chunks ?? 0); i++) {
      await this.redis.del(this.chunkKey(key, Number(h.version), i));
    }
    return h.version !== undefined;
  }

  async list(prefix = ''): Promise<ArtifactInfo[]> {
    checkArtifactPrefix(prefix);
    const pattern = `${this.prefix}{art:${prefix}*}`;
    const nodes: Redis[] = this.redis.isCluster
      ? (this.redis as Cluster).nodes('master')
      : [this.redis as Redis];
    const keys = new Set<string>();
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        for (const k of batch) keys.add(k.slice(this.prefix.length + 5, -1));
      } while (cursor !== '0');
    }
    const out: ArtifactInfo[] = [];
    for (const key of [...keys].sort()) {
      const info = await this.info(key);
      if (info !== null) out.push(info);
    }
    return out;
  }

  /** Nothing to do: uncommitted chunks carry a TTL and expire by themselves. */
  async purgeIncomplete(): Promise<{ items: number; bytes: number }> {
    return { items: 0, bytes: 0 };
  }

  /** The connection belongs to the caller. */
  async close(): Promise<void> {}
}

class ReplacedWhileReading extends Error {
  override readonly name = 'ReplacedWhileReading';
  constructor(location: string, key: string) {
    super(`artifact ${key} in ${location} was replaced while being read`);
  }
}
