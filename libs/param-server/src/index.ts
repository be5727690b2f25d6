/**
 * @mmim/param-server — parameters and Adam moments of a trial in Redis, chunked, and the
 * synchronous data-parallel step protocol over them (publish gradients, owners reduce + apply,
 * everyone pulls). See docs/param-server.md.
 *
 * ```ts
 * const store = new ParamStore(new Redis(url));
 * const plan = makeChunkPlan(specs);                  // same on every rank
 * await store.initialize(trial, plan, initialValues); // first caller writes, others wait
 * await store.publishGradients(trial, step, rank, scatterToChunks(plan, grads));
 * await store.reduceAndApply(trial, step, rank, worldSize, applyAdam, { gradScale: 1 / worldSize });
 * const params = gatherFromChunks(plan, await store.pullParameters(trial, step));
 * ```
 */
export {
  DEFAULT_CHUNK_BYTES,
  assignOwners,
  gatherFromChunks,
  makeChunkPlan,
  ownedChunks,
  scatterToChunks,
  type ChunkInfo,
  type ChunkPiece,
  type ChunkPlan,
  type OwnershipStrategy,
  type ParamSpec,
} from './chunking.js';
export { bufferToF32, f32ToBuffer } from './bytes.js';
export { ParamServerError, ParamServerTimeoutError, type ProtocolPlace } from './errors.js';
export { DEFAULT_PREFIX, TrialKeys } from './keys.js';
export {
  ParamStore,
  type ApplyContext,
  type ApplyFn,
  type ChunkState,
  type InitializeOptions,
  type ParamStoreOptions,
  type ReduceOptions,
  type ReduceResult,
  type ReducedGradients,
  type TrialPlan,
  type WaitOptions,
} from './store.js';
// Test helpers (a real redis-server / Redis Cluster per suite): '@mmim/param-server/testing'.
export {
  RedisCollectives,
  type AllReduceOptions,
  type CollectivesOptions,
  type Compression,
} from './collectives.js';
export {
  LiveStateStore,
  StaleLiveAttemptError,
  type LiveHead,
  type LiveKind,
} from './live-state.js';
export { addF16Chunk, encodeF16Chunk, f16BitsToF32, f16ChunkLength, f32ToF16Bits } from './fp16.js';
export type { RedisClient } from './client.js';
