/**
 * The trainer's batches from an MsaDataset: the epoch's global order per (seed, epoch) from
 * @mmim/data (train shuffled unless `shuffle: false`, valid/test in file order), cut into global
 * batches of `batchSize` (last one partial, as the reference's DataLoader), each gathered with
 * its time axes trimmed to the batch's longest sequence (the encoders read only valid steps).
 */
import {
  batchCount,
  epochOrder,
  globalBatch,
  makeBatch,
  type MsaDataset,
  type SplitName,
} from '@mmim/data';
import type { MmimBatch } from '@mmim/model';
import type { BatchProvider } from './trainer.js';

export class DatasetBatches implements BatchProvider {
  constructor(
    private readonly data: MsaDataset,
    private readonly opts: { batchSize: number; seed: number; shuffle: boolean },
  ) {}

  batchIndices(split: SplitName, epoch: number): number[][] {
    const size = this.data.splits[split].size;
    const order = epochOrder(size, {
      seed: this.opts.seed,
      epoch,
      shuffle: split === 'train' && this.opts.shuffle,
    });
    return Array.from({ length: batchCount(size, this.opts.batchSize) }, (_, i) =>
      Array.from(globalBatch(order, this.opts.batchSize, i)),
    );
  }

  batch(split: SplitName, indices: readonly number[]): MmimBatch {
    return makeBatch(
      this.data.splits[split],
      indices,
      { dataset: this.data.name },
      { trimSteps: true },
    ).batch;
  }
}
