/**
 * `mmim train --synthetic`: MMIM's two-stage epoch (stage 0 on MMILB, stage 1 on the task) over
 * generated MOSI-shaped batches with a tiny BERT, printing progress and saving the weights.
 * The full trainer (real datasets, evaluation metrics, checkpoints with optimiser state) builds on
 * the same TwoStageStepper.
 */
import fs from 'node:fs';
import path from 'node:path';
import { initBackend, type BackendChoice } from '@mmim/runtime';
import {
  MmimModel,
  TINY_BERT,
  REFERENCE_OPTIMIZATION,
  TwoStageStepper,
  randomBatch,
  resolveMmimConfig,
  saveMmimWeights,
  type MmimBatch,
  type StepReport,
} from '@mmim/model';
export interface QuickTrainCliOptions {
  synthetic: boolean;
  epochs: number;
  batches: number;
  batchSize: number;
  seed: number;
  out: string;
  json?: boolean;
  backend?: BackendChoice;
}

export async function runQuickTrain(opts: QuickTrainCliOptions): Promise<void> {
  const backend = await initBackend({ backend: opts.backend ?? 'auto' });
  const config = resolveMmimConfig({ bert: TINY_BERT, d_vin: 20, d_ain: 5 });
  const shape = { size: opts.batchSize, textLength: 50, visualSteps: 500, acousticSteps: 375 };
  const train: MmimBatch[] = Array.from({ length: opts.batches }, (_, i) =>
    randomBatch(config, { ...shape, firstSampleIndex: i * opts.batchSize }, opts.seed * 1000 + i),
  );
  const valid = randomBatch(
    config,
    { ...shape, firstSampleIndex: 1_000_000 },
    opts.seed * 1000 + 999,
  );
  const model = MmimModel.initialize(config, opts.seed);
  const stepper = new TwoStageStepper(model, { ...REFERENCE_OPTIMIZATION, seed: opts.seed });
  const say = (line: string): void => {
    if (!opts.json) process.stdout.write(`${line}\n`);
  };
  say(
    `backend ${backend.name} (${backend.device}); ${opts.epochs} epochs x ${opts.batches} batches of ${opts.batchSize}`,
  );
  const mae = async (): Promise<number> => {
    const preds = await model.predict(valid);
    let s = 0;
    preds.forEach((p, i) => (s += Math.abs(p - (valid.labels[i] ?? 0))));
    return s / preds.length;
  };
  say(`epoch 0 | valid MAE ${(await mae()).toFixed(4)}`);
  for (let epoch = 1; epoch <= opts.epochs; epoch++) {
    for (const stage of [0, 1] as const) {
      stepper.beginStage(stage);
      for (const [i, batch] of train.entries()) {
        const started = performance.now();
        const r = await stepper.step(batch);
        const ms = performance.now() - started;
        if (opts.json) process.stdout.write(`${JSON.stringify({ epoch, ...r, ms })}\n`);
        else say(formatStep(epoch, i, opts.batches, r, ms));
      }
    }
    say(`epoch ${epoch} | valid MAE ${(await mae()).toFixed(4)}`);
  }
  fs.mkdirSync(opts.out, { recursive: true });
  const file = path.join(opts.out, 'model.safetensors');
  await saveMmimWeights(file, model, { epochs: String(opts.epochs), seed: String(opts.seed) });
  say(`saved ${file}`);
  model.dispose();
}

function formatStep(epoch: number, i: number, n: number, r: StepReport, ms: number): string {
  const stage = r.stage === 0 ? 'stage 0 (-lld)' : 'stage 1 (task)';
  const extra =
    r.stage === 1
      ? ` | L1 ${r.yLoss?.toFixed(4)} | nce ${r.nce.toFixed(3)} | H ${r.H === null ? '-' : r.H.toFixed(3)}`
      : '';
  const flag = r.skippedNonFinite ? ' | SKIPPED (non-finite)' : '';
  return `epoch ${epoch} | ${stage} | batch ${i + 1}/${n} | loss ${r.loss.toFixed(4)} | lld ${r.lld.toFixed(3)}${extra} | |g| ${r.gradNorm.toFixed(2)} | ${ms.toFixed(0)} ms${flag}`;
}
