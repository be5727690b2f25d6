/**
 * With `text_encoder.freeze`, BERT's [CLS] vector of a sample never changes, so it is computed
 * once per split (evaluation mode: BERT's own dropout is off for frozen features) and reused by
 * every epoch; the per-step cost drops to the LSTMs and heads. The cache wraps a BatchProvider
 * and attaches the rows' features to each batch.
 */
import type { MsaDataset, SplitName } from '@mmim/data';
import type { MmimModel } from '@mmim/model';
import type { BatchProvider } from './trainer.js';

export class TextFeatureCache implements BatchProvider {
  private readonly features = new Map<SplitName, Float32Array>();

  constructor(
    private readonly inner: BatchProvider,
    private readonly model: MmimModel,
    private readonly data: MsaDataset,
  ) {
    if (model.bertTrains)
      throw new Error('the text feature cache needs a frozen BERT (text_encoder.freeze: true)');
  }

  batchIndices(split: SplitName, epoch: number): number[][] {
    return this.inner.batchIndices(split, epoch);
  }

  batch(split: SplitName, indices: readonly number[]) {
    const b = this.inner.batch(split, indices);
    const all = this.featuresOf(split);
    const H = this.model.config.bert.hidden_size;
    const rows = new Float32Array(indices.length * H);
    indices.forEach((r, k) => rows.set(all.subarray(r * H, (r + 1) * H), k * H));
    return { ...b, textFeatures: rows };
  }

  /** (N, H) [CLS] features of a split (computed by `prepare`). */
  featuresOf(split: SplitName): Float32Array {
    const cached = this.features.get(split);
    if (cached === undefined) {
      throw new Error(
        `text features of split '${split}' are not computed yet: await prepare() first`,
      );
    }
    return cached;
  }

  /** Computes the features of `splits` (reading them back asynchronously); idempotent. */
  async prepare(splits: readonly SplitName[] = ['train', 'valid', 'test']): Promise<void> {
    const H = this.model.config.bert.hidden_size;
    for (const split of splits) {
      if (this.features.has(split)) continue;
      const out = new Float32Array(this.data.splits[split].size * H);
      for (const indices of this.inner.batchIndices(split, 0)) {
        const b = this.inner.batch(split, indices);
        const t = this.model.textPrefix(b, null);
        if (t === null) throw new Error('frozen BERT returned no features');
        const values = (await t.data()) as Float32Array;
        t.dispose();
        indices.forEach((r, k) => out.set(values.subarray(k * H, (k + 1) * H), r * H));
      }
      this.features.set(split, out);
    }
  }
}
