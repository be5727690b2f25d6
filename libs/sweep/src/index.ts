/**
 * @mmim/sweep — the pure core of hyperparameter sweeps (no Redis, no TF.js): the sweep file,
 * the search space, samplers (grid, random, TPE), early-stopping schedulers (ASHA, median)
 * and the aggregation the coordinator records. docs/sweeps.md describes the file and the rules.
 *
 * ```ts
 * const spec = loadSweepFile('sweep.yaml', { trainerSchema: trainerConfigSchema });
 * const sampler = createSampler(spec);
 * const params = sampler.ask(samplerHistory(recordedTrials), nextConfigNumber); // null: done
 * const scheduler = createScheduler(spec);
 * scheduler.restore(recordedEpochs);
 * if (scheduler.onEpoch(trialId, epoch, objectiveOf(entry, spec.metric.name) ?? NaN) === 'stop') prune();
 * ```
 */
export {
  METRIC_NAMES,
  METRIC_SPLITS,
  SweepConfigError,
  loadSweepFile,
  parseSweepSpec,
  parseSweepYaml,
  type DataSource,
  type EarlyTerminate,
  type Goal,
  type SweepConfigIssue,
  type SweepMethod,
  type SweepParseOptions,
  type SweepSpec,
  type SyntheticData,
  type TpeOptions,
  type TrainerSchemaLike,
} from './sweep-config.js';
export { TRAINER_CONFIG_KEYS, expandDotted } from './trainer-keys.js';
export {
  canonicalJson,
  configKey,
  gridSize,
  type Distribution,
  type DistributionKind,
  type Scalar,
} from './space.js';
export { mulberry32 } from './rng.js';
export {
  GridSampler,
  RandomSampler,
  SAMPLERS,
  SAMPLER_NAMES,
  TPE_DEFAULTS,
  TpeSampler,
  createSampler,
  type SamplerEntry,
  type FinishedConfig,
  type Sampler,
  type SamplerHistory,
  type TpeSettings,
} from './samplers.js';
export {
  AshaScheduler,
  EARLY_STOPPING_NAMES,
  EARLY_STOPPING_RULES,
  MedianStoppingScheduler,
  NoStopScheduler,
  createScheduler,
  type AshaSettings,
  type EarlyStoppingType,
  type MedianSettings,
  type RuleEntry,
  type Decision,
  type EpochValue,
  type TrialScheduler,
} from './schedulers.js';
export {
  better,
  bestConfig,
  configSummary,
  finishedConfigOf,
  groupByConfig,
  objectiveOf,
  samplerHistory,
  type BestConfig,
  type ConfigSummary,
  type TrialLike,
  type TrialStateLike,
} from './aggregate.js';
export { trialTrainerConfig, type TrialTrainerConfig } from './trial-config.js';
export { MAX_SWEEP_FILE_BYTES } from './yaml-guard.js';
