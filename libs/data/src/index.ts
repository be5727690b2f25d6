/**
 * @mmim/data — multimodal sentiment datasets for MMIM: readers for the files researchers have,
 * a tokenizer, synthetic data, deterministic batching and sharding.
 */
export {
  DataError,
  SPLITS,
  type DatasetFormat,
  type MsaDataset,
  type SampleKey,
  type SplitData,
  type SplitName,
} from './types.js';
export {
  BertWordPieceTokenizer,
  SPECIAL_TOKENS,
  type BertEncoding,
  type SpecialToken,
} from './tokenizer/bert-tokenizer.js';
export { NdArray, type NumericDtype } from './pickle-writer/ndarray.js';
export {
  PyTuple,
  encodePickle,
  serializePickle,
  writePickleFile,
  type ByteSink,
  type PyValue,
} from './pickle-writer/pickle-writer.js';
export {
  generateSyntheticDataset,
  syntheticCeilings,
  synthesizeDataset,
  tinyBertConfig,
  type SynthReport,
  type SynthesizeOptions,
  type SyntheticDataset,
} from './synthetic/synthesize.js';
export { PROFILES, type SyntheticLike, type SyntheticProfile } from './synthetic/profiles.js';
export { regressionMetrics, type RegressionMetrics } from './synthetic/estimators.js';
export {
  CEILING_KINDS,
  type CeilingKind,
  type CeilingName,
  type Ceilings,
} from './synthetic/ceilings.js';
export {
  batchCount,
  epochOrder,
  globalBatch,
  makeBatch,
  rankRange,
  rankSlice,
  shardedBatches,
  splitOrder,
  type EpochOrderOptions,
  type KeyedBatch,
  type MakeBatchOptions,
  type ShardedBatch,
} from './batching.js';
export {
  loadOrBuildCached,
  sourceDigest,
  type CachedDataset,
  type DatasetCacheOptions,
  type JsonValue,
} from './cache.js';
export {
  DATASET_FILE_NAMES,
  loadDataset,
  resolveDatasetFile,
  type LoadDatasetOptions,
} from './load.js';
// The reader table loadDataset and inspectDataset pick from (one entry per format).
export {
  CSD_FOLDS_FILE,
  DATASET_READERS,
  csdFolderReader,
  pickReader,
  pickleReader,
  type DatasetReadOptions,
  type DatasetReader,
} from './readers/registry.js';
// Readers of the dataset files users have, and the strict unpickler under them. The unpickler's
// value classes are exported as the `pickle` namespace: their names (NdArray, PyTuple, PyValue)
// are the pickle writer's too.
export * as pickle from './pickle/index.js';
export {
  PickleError,
  openPickle,
  unpickle,
  type PickleFile,
  type UnpickleOptions,
} from './pickle/index.js';
export {
  CsdFile,
  DEFAULT_TEXT_LENGTH,
  ProblemLog,
  readCsdDataset,
  readDataset,
  readLabelCsv,
  readMmimPickle,
  readMmsaPickle,
  type CsdReadOptions,
  type CsdSources,
  type DataProblem,
  type LabelRow,
  type MmimReadOptions,
  type MmsaReadOptions,
  type ReadOptions,
  type Tokenize,
} from './readers/index.js';
export {
  formatInspectReport,
  inspectDataset,
  type InspectOptions,
  type InspectReport,
  type LengthStats,
  type ModalitySummary,
  type SequenceSummary,
  type SplitSummary,
} from './inspect.js';
export type { ReadNotes } from './types.js';
