/**
 * @mmim/trainer — MMIM's full training procedure on one worker: configuration, the epoch loop
 * (two stages, evaluation, LR plateau, selection, early stopping), metrics, checkpoints.
 *
 * ```ts
 * const trainer = new Trainer({ config: buildTrainerConfig({ preset: 'mosi' }), data, batches, bert });
 * const result = await trainer.run();
 * ```
 */
export {
  PRESETS,
  TrainerConfigError,
  buildTrainerConfig,
  readConfigFile,
  resolveTrainerConfig,
  trainerConfigSchema,
  type TrainerConfig,
  type TrainerConfigInput,
} from './config.js';
// The metrics live with the model (the data lib's estimators score with them too).
export {
  binaryScores,
  pearson,
  roundHalfEven,
  sentimentMetrics,
  type SentimentMetrics,
} from '@mmim/model';
export { EarlyStopping, ReduceLROnPlateau } from './schedulers.js';
export {
  loadTrainingCheckpoint,
  saveTrainingCheckpoint,
  type TrainerState,
  type TrainingCheckpoint,
} from './checkpoint.js';
export { modelConfigFor, type FeatureDims } from './model-config.js';
export {
  Trainer,
  predictSplit,
  type BatchProvider,
  type EpochRecord,
  type EvalResult,
  type TrainResult,
  type TrainerEvent,
  type TrainerOptions,
} from './trainer.js';
export { DatasetBatches } from './dataset-batches.js';
export { TextFeatureCache } from './feature-cache.js';
export type { DistributedOptions } from './trainer.js';
export type { EpochCursor, LiveSnapshot, LiveStateSink, TrainerCursor } from './live.js';
export {
  TrialSpecError,
  headRows,
  parseTrialSpec,
  prepareTrial,
  trialSpecSchema,
  type PreparedTrial,
  type TrialSpec,
  type TrialSpecInput,
} from './trial-spec.js';
