/**
 * @mmim/artifacts — where checkpoints live: one small interface (ArtifactStore: put streamed
 * with sha256, atomic replace, get/open, info, delete, list) and three backends chosen by a
 * setting: a directory, an S3-compatible bucket, or Redis (small artifacts only, capped).
 *
 * ```ts
 * const store = openArtifactStore('dir:/srv/run/artifacts');       // or 's3://b/p?endpoint=..'
 * await store.put('trials/t1/last/v1.safetensors', bytes);          // whole, or an AsyncIterable
 * const back = await store.get('trials/t1/last/v1.safetensors');    // sha256-checked
 * ```
 */
export {
  ArtifactChecksumError,
  ArtifactCorruptError,
  ArtifactTooLargeError,
  checkArtifactKey,
  type ArtifactBody,
  type ArtifactInfo,
  type ArtifactScheme,
  type ArtifactStore,
  type OpenedArtifact,
  type PutOptions,
  type StoredArtifact,
} from './store.js';
export { DirArtifactStore } from './dir-store.js';
export { S3ArtifactStore, type S3ArtifactStoreOptions } from './s3-store.js';
export {
  REDIS_ARTIFACT_CHUNK_BYTES,
  REDIS_ARTIFACT_DEFAULT_MAX_BYTES,
  RedisArtifactStore,
  type RedisArtifactStoreOptions,
} from './redis-store.js';
export {
  openArtifactStore,
  parseArtifactSpec,
  registerArtifactBackend,
  type ArtifactBackend,
  type ArtifactSpec,
  type ArtifactStoreContext,
} from './registry.js';
