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
