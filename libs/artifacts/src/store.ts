/**
 * The artifact store contract: a flat namespace of immutable-looking byte strings (checkpoints)
 * under relative keys such as `trials/s1-t0/last/v3.safetensors`. Every backend hashes what it
 * writes (sha256), checks it again on every read, and replaces a key atomically: a reader sees
 * the old bytes or the new ones, never a mix and never half of either. A write that dies
 * part-way leaves nothing a reader can see, and the same write run again succeeds.
 *
 * Keys are relative to the store, so a record that names a key survives moving the store
 * (a run directory copied elsewhere, a bucket renamed): only the store's location changes.
 */

/** The bytes of a put: whole, or streamed as chunks (each chunk may be reused once yielded). */
export type ArtifactBody = Uint8Array | AsyncIterable<Uint8Array>;

export type ArtifactScheme = 'dir' | 's3' | 'redis';

export interface ArtifactInfo {
  /** The key, relative to the store. */
  key: string;
  bytes: number;
  /** Hex sha256 of the bytes; '' where a listing does not carry it (S3 listings). */
  sha256: string;
  /** Milliseconds since the epoch when the write completed. */
  savedAt: number;
}

export interface StoredArtifact extends ArtifactInfo {
  data: Buffer;
}

/** An artifact being read chunk by chunk; the iterator throws at the end on a sha256 mismatch. */
export interface OpenedArtifact extends ArtifactInfo {
  chunks(): AsyncGenerator<Buffer>;
}

export interface PutOptions {
  /** The sha256 the caller expects; a mismatch refuses the write and replaces nothing. */
  sha256?: string;
}

export interface ArtifactStore {
  readonly scheme: ArtifactScheme;
  /** Where it is, for logs and errors (the URL it was opened from, without credentials). */
  readonly location: string;
  put(key: string, body: ArtifactBody, options?: PutOptions): Promise<ArtifactInfo>;
  /** The whole artifact, sha256-checked; null when the key holds nothing. */
  get(key: string): Promise<StoredArtifact | null>;
  /** Streamed read, one chunk in memory at a time; null when the key holds nothing. */
  open(key: string): Promise<OpenedArtifact | null>;
  info(key: string): Promise<ArtifactInfo | null>;
  /** True when the key held something. Deleting a missing key is harmless. */
  delete(key: string): Promise<boolean>;
  /** Every artifact whose key starts with `prefix` ('' for all), sorted by key. */
  list(prefix?: string): Promise<ArtifactInfo[]>;
  /**
   * Remove what writes that died part-way left behind (temp files, unfinished uploads) older
   * than `olderThanMs`; returns how many bytes were freed where the backend knows.
   */
  purgeIncomplete(olderThanMs: number): Promise<{ items: number; bytes: number }>;
  /** Releases connections; safe to call twice. */
  close(): Promise<void>;
}

/** The bytes read back do not hash to what was written. */
export class ArtifactCorruptError extends Error {
  override readonly name = 'ArtifactCorruptError';
  constructor(
    readonly location: string,
    readonly key: string,
    readonly detail: string,
  ) {
    super(`artifact ${key} in ${location} is corrupt: ${detail}`);
  }
}

/** A put larger than the backend accepts (the Redis store's cap). */
export class ArtifactTooLargeError extends Error {
  override readonly name = 'ArtifactTooLargeError';
  constructor(
    readonly location: string,
    readonly key: string,
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(
      `artifact ${key} is ${bytes} bytes or more, over the ${maxBytes}-byte cap of ${location}: ` +
        `Redis keeps only small checkpoints; use a dir: or s3:// artifact store for this model`,
    );
  }
}

/** The put's bytes hash to something other than PutOptions.sha256 (nothing was replaced). */
export class ArtifactChecksumError extends Error {
  override readonly name = 'ArtifactChecksumError';
  constructor(
    readonly key: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`artifact ${key}: the bytes written hash to ${actual}, the caller expected ${expected}`);
  }
}

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/**
 * Keys are '/'-separated segments of [A-Za-z0-9._-], none starting with '.': no absolute paths,
 * no '..', nothing a backend would read as its own (the dir store's `.tmp`, hash-tag braces).
 */
export function checkArtifactKey(key: string): void {
  const segments = key.split('/');
  if (key.length === 0 || key.length > 512 || !segments.every((s) => SEGMENT.test(s))) {
    throw new Error(
      `invalid artifact key ${JSON.stringify(key)}: use '/'-separated segments of [A-Za-z0-9._-], none empty or starting with '.'`,
    );
  }
}

/** A key prefix for list(): '' or a key, optionally ending in '/'. */
export function checkArtifactPrefix(prefix: string): void {
  if (prefix === '') return;
  checkArtifactKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}
