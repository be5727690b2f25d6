/**
 * @mmim/experiments — the experiment record in Redis: sweeps, trials, epochs, events, curves,
 * worker snapshots (ExperimentStore), and trial checkpoints (CheckpointStore).
 *
 * ```ts
 * const store = new ExperimentStore(redis); // prefix 'mmim:'
 * await store.putSweep(sweep);
 * await store.addEpoch(trialId, entry, sweep.metric);
 * const curve = await store.curve(trialId, 'train/loss', { maxPoints: 1000 }); // extremes kept
 * const stop = await store.subscribe((change) => console.log(change));
 * ```
 */
export * from './types.js';
export * from './metrics.js';
export type { Curve, ExperimentStoreApi, TrialQuery } from './store-api.js';
export { ExperimentStore, epochObjective } from './store.js';
export { RecordNotFoundError, StoreConflictError } from './errors.js';
export { downsample } from './downsample.js';
export { isValidRecordId } from './keys.js';
export { TRIAL_SORT_KEYS, checkTrialSort, queryTrials } from './trial-query.js';
export {
  CHECKPOINT_CHUNK_BYTES,
  CHECKPOINT_KINDS,
  CheckpointStore,
  StaleAttemptError,
  trialArtifactPrefix,
  type CheckpointInfo,
  type CheckpointKind,
  type CheckpointStoreOptions,
  type StoredCheckpoint,
} from './checkpoints.js';
export { publishArtifactStore } from './checkpoint-artifacts.js';
export {
  DEFAULT_RETENTION,
  planRetention,
  retentionOf,
  type RetentionDecision,
  type RetentionPlan,
  type RetentionPolicy,
  type RetentionTrial,
} from './retention.js';
// Test helpers (record builders, the store in memory): '@mmim/experiments/testing'.
