/**
 * `mmim train --data FILE|DIR`: MMIM's full training procedure on a real or synthetic dataset,
 * once per seed, with progress, checkpoints under --out/seed-<s>/, and the test metrics of the
 * selected epoch (mean ± std over seeds, as MMSA reports).
 */
import fs from 'node:fs';
import path from 'node:path';
import { initBackend, type BackendChoice } from '@mmim/runtime';
import { loadDataset, resolveDatasetFile } from '@mmim/data';
import {
  TINY_BERT,
  saveMmimWeights,
  loadHfBert,
  readBertConfig,
  type BertConfig,
  type ParamName,
} from '@mmim/model';
import {
  DatasetBatches,
  Trainer,
  buildTrainerConfig,
  type SentimentMetrics,
  type TrainerConfig,
} from '@mmim/trainer';
import { createReporter } from '../output/reporter.js';
import { meanStd, meanStdTable, metricsTable } from '../output/metrics-table.js';
import { loadInitWeights, seedSavePath } from './shared.js';
import { UsageError, parseSeeds } from '../usage.js';

export interface TrainDataOptions {
  data: string;
  config?: string;
  preset?: string;
  bert?: string;
  bertConfig?: string;
  init?: string;
  resume?: string;
  save?: string;
  out: string;
  seeds?: string;
  sanitize?: boolean;
  cacheDir?: string;
  printConfig?: boolean;
  json?: boolean;
  backend?: BackendChoice;
  overrides: Record<string, unknown>;
}

export async function runTrainOnData(o: TrainDataOptions): Promise<void> {
  const base = buildTrainerConfig({ preset: o.preset, file: o.config, overrides: o.overrides });
  if (o.printConfig) {
    process.stdout.write(`${JSON.stringify(base, null, 2)}\n`);
    return;
  }
  const reporter = createReporter({ json: o.json });
  const backend = await initBackend({ backend: o.backend ?? 'auto' });
  const seeds = o.seeds === undefined ? [base.seed] : parseSeeds(o.seeds);
  let bert: BertConfig = TINY_BERT;
  let bertWeights: Map<ParamName, Float32Array> | undefined;
  let vocab: string | undefined;
  if (o.bert !== undefined) {
    const hf = await loadHfBert(o.bert);
    bert = hf.config;
    bertWeights = hf.state;
    vocab = hf.vocabPath;
  } else if (o.bertConfig !== undefined) {
    bert = readBertConfig(o.bertConfig);
  } else {
    const beside = path.join(path.dirname(resolveDatasetFile(o.data)), 'config.json');
    if (fs.existsSync(beside)) bert = readBertConfig(beside); // synthetic datasets ship their tiny BERT
  }
  const data = await loadDataset(o.data, {
    sanitize: o.sanitize ?? false,
    ...(o.cacheDir === undefined ? {} : { cacheDir: o.cacheDir }),
    ...(vocab === undefined ? {} : { vocab }),
  });
  reporter.info(
    `backend ${backend.name} (${backend.device}) | ${data.name} (${data.format}): ` +
      `train ${data.splits.train.size}, valid ${data.splits.valid.size}, test ${data.splits.test.size} | ` +
      `BERT ${bert.num_hidden_layers} x ${bert.hidden_size}${bertWeights ? ' (pretrained)' : ' (random init)'}`,
    {
      backend: backend.name,
      dataset: data.name,
      sizes: {
        train: data.splits.train.size,
        valid: data.splits.valid.size,
        test: data.splits.test.size,
      },
    },
  );
  const init =
    o.init === undefined ? bertWeights : await loadInitWeights(o.init, bertWeights, bert);
  const results: SentimentMetrics[] = [];
  for (const seed of seeds) {
    const config: TrainerConfig = { ...base, seed };
    const outDir = seeds.length > 1 ? path.join(o.out, `seed-${seed}`) : o.out;
    const batches = new DatasetBatches(data, {
      batchSize: config.batch_size,
      seed,
      shuffle: config.shuffle,
    });
    const onEvent = (e: Parameters<typeof reporter.event>[0]): void =>
      reporter.event({ ...e, seed });
    const trainer =
      o.resume !== undefined
        ? await Trainer.resume(o.resume, { data, batches, bert, outDir, onEvent })
        : new Trainer({
            config,
            data,
            batches,
            bert,
            outDir,
            onEvent,
            ...(init === undefined ? {} : { init }),
          });
    const result = await trainer.run();
    if (o.save !== undefined) {
      await saveMmimWeights(seedSavePath(o.save, seed, seeds.length), trainer.model, {
        epoch: String(trainer.epochsDone),
        seed: String(seed),
      });
    }
    trainer.dispose();
    if (result.bestTest === null)
      throw new Error(`seed ${seed}: no epoch was selected (no finite valid loss)`);
    results.push(result.bestTest);
    reporter.result(
      {
        seed,
        bestEpoch: result.best?.epoch,
        test: result.bestTest,
        valid: result.bestValid,
        checkpoint: path.join(outDir, 'best.safetensors'),
      },
      `seed ${seed}: best epoch ${result.best?.epoch} (selected on ${config.reference_selection ? 'valid + test (reference rule)' : 'valid'})\n${metricsTable(result.bestTest)}`,
    );
  }
  if (results.length > 1) {
    reporter.result(
      { seeds, meanStd: meanStd(results) },
      `test metrics over seeds ${seeds.join(', ')} (mean ± std)\n${meanStdTable(results)}`,
    );
  }
  reporter.close();
}

// Defined with the other light parsing helpers (main.ts loads them without this module).
export { UsageError, parseSeeds };
