/**
 * @mmim/model — MMIM (MultiModal InfoMax) in TensorFlow.js, matching the authors' PyTorch code.
 *
 * ```ts
 * const model = MmimModel.initialize(resolveMmimConfig({ bert: TINY_BERT, d_vin: 20, d_ain: 5 }), 1111);
 * const stepper = new TwoStageStepper(model, optimizationConfig);
 * stepper.beginStage(0); await stepper.step(batch);   // -lld, MMILB optimiser
 * stepper.beginStage(1); await stepper.step(batch);   // task + alpha nce - beta lld - beta H
 * ```
 */
export {
  BERT_BASE,
  ConfigError,
  TINY_BERT,
  bertConfigSchema,
  derivedDims,
  mmimConfigSchema,
  resolveMmimConfig,
  type BertConfig,
  type MmimConfig,
  type MmimConfigInput,
} from './config.js';
export { validateBatch, type MmimBatch } from './batch.js';
export { MmimModel, type ForwardOptions, type MmimTerms, type PairName } from './model.js';
export {
  BERT_PREFIX,
  groupOf,
  initialStateDict,
  isBertParamTrainable,
  mmimParamSpecs,
  sizeOf,
  type ParamGroup,
  type ParamName,
  type ParamSpec,
} from './params.js';
export { SeededRandom, dropoutScales, hashString, hashWords } from './rng.js';
export {
  REFERENCE_OPTIMIZATION,
  TwoStageStepper,
  type OptimizationConfig,
  type OwnedGradients,
  type ShardExchange,
  type StageCursor,
  type StepperSharding,
  type Stage,
  type StepReport,
  type StepValues,
} from './stepper.js';
export {
  TorchAdam,
  adamUpdate,
  ADAM_DEFAULTS,
  type AdamGroup,
  type AdamHyper,
  type AdamOptimizer,
  type AdamSlot,
} from './optim/adam.js';
export { DeviceAdam } from './optim/device-adam.js';
export {
  OptimizerShard,
  ShardedAdam,
  type MomentReader,
  type PieceGrads,
  type ShardChunk,
  type ShardPiece,
} from './optim/sharded-adam.js';
export { clipFactor, globalNorm } from './optim/clip.js';
export { cholesky, inverseFromCholesky, spdLogdet } from './layers/logdet.js';
export { clampLengths, lstmRecurrence } from './layers/lstm.js';
export {
  disposeMemory,
  entropyTerm,
  labelSignIndices,
  type EntropyMemory,
} from './layers/entropy.js';
export {
  BACKEND_PROFILES,
  assertModelKernels,
  backendProfile,
  parseModelOps,
  type BackendProfile,
} from './kernels/registry.js';
export { cpcNce, l2NormalizeRows } from './layers/heads.js';
export type { DropoutContext, ParamLookup } from './layers/basic.js';
export { MOSI_SHAPE, randomBatch, sliceBatch, type RandomBatchShape } from './synthetic.js';
export {
  MMIM_CONFIG_METADATA_KEY,
  OPTIMIZER_TENSOR_PREFIX,
  canonicalName,
  inferMmimConfig,
  loadMmimWeights,
  saveMmimStateDict,
  saveMmimWeights,
  type LoadedWeights,
} from './io/weights.js';
export { loadHfBert, mmimNameForHf, readBertConfig, type HfBert } from './io/hf-bert.js';
export {
  couplingRows,
  dataParallelStep,
  gatherCoupling,
  isShardedGroup,
  shardGradients,
  type CouplingRows,
  type Modality,
  type RankGroup,
  type RankShare,
  type ShardedRankGroup,
  type ShardOptions,
  type ShardResult,
} from './sharded.js';
export {
  binaryScores,
  pearson,
  roundHalfEven,
  sentimentMetrics,
  type SentimentMetrics,
} from './metrics.js';
