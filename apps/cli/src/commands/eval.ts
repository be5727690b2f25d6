/**
 * `mmim eval --checkpoint F --data FILE [--split test] [--output preds.json]`: predictions of a
 * checkpoint (ours, or a PyTorch MMIM state dict saved as safetensors) on one split, the metric
 * table, and optionally the predictions in dataset order.
 */
import fs from 'node:fs';
import { initBackend, type BackendChoice } from '@mmim/runtime';
import { loadDataset, type SplitName } from '@mmim/data';
import { MmimModel, loadMmimWeights, readBertConfig } from '@mmim/model';
import { DatasetBatches, predictSplit, sentimentMetrics } from '@mmim/trainer';
import { createReporter } from '../output/reporter.js';
import { metricsTable } from '../output/metrics-table.js';
import { UsageError } from './train-data.js';

export interface EvalOptions {
  checkpoint: string;
  data: string;
  split: string;
  bertConfig?: string;
  output?: string;
  batchSize: number;
  json?: boolean;
  backend?: BackendChoice;
}

export async function runEval(o: EvalOptions): Promise<void> {
  if (!['train', 'valid', 'test'].includes(o.split))
    throw new UsageError(`--split must be train, valid or test, got '${o.split}'`);
  const split = o.split as SplitName;
  const reporter = createReporter({ json: o.json });
  await initBackend({ backend: o.backend ?? 'auto' });
  const bertHints = o.bertConfig === undefined ? {} : readBertConfig(o.bertConfig);
  const weights = await loadMmimWeights(o.checkpoint, bertHints);
  const config = { ...weights.config, bert: { ...weights.config.bert, ...bertHints } };
  const model = new MmimModel(config, weights.state);
  const data = await loadDataset(o.data);
  const d = data.splits[split];
  if (d.visualDim !== config.d_vin || d.acousticDim !== config.d_ain) {
    throw new Error(
      `${o.data}: features are visual ${d.visualDim} / acoustic ${d.acousticDim}, the checkpoint expects ${config.d_vin} / ${config.d_ain}`,
    );
  }
  const batches = new DatasetBatches(data, { batchSize: o.batchSize, seed: 0, shuffle: false });
  const preds = await predictSplit(model, batches, split, d.size);
  model.dispose();
  const m = sentimentMetrics(preds, d.labels);
  if (o.output !== undefined) fs.writeFileSync(o.output, `${JSON.stringify(Array.from(preds))}\n`);
  reporter.result(
    { checkpoint: o.checkpoint, split, metrics: m, output: o.output ?? null },
    `${o.checkpoint} on ${split} (${d.size} samples)\n${metricsTable(m)}`,
  );
  reporter.close();
}
