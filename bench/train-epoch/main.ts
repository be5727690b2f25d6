/**
 * bench/train-epoch: seconds per MMIM epoch (stage 0 + stage 1 + evaluation on valid and test)
 * on the synthetic MOSI at full size (1284 / 229 / 686), MOSI preset, batch 32, with
 *   tiny         the tiny BERT (2 x 128), all trainable;
 *   frozen-cache the tiny BERT frozen, [CLS] features cached once per split;
 * and, when Debian's PyTorch is installed, the reference procedure on the same file and config
 * in the same invocation (PyTorch has no feature cache: its frozen BERT runs every step).
 *
 *   npm run bench:train-epoch -- [--scale 1] [--no-torch] [--threads 1]
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initBackend } from '@mmim/runtime';
import { loadDataset, synthesizeDataset } from '@mmim/data';
import { readBertConfig } from '@mmim/model';
import { DatasetBatches, Trainer, buildTrainerConfig, modelConfigFor } from '@mmim/trainer';

const { values: args } = parseArgs({
  options: {
    scale: { type: 'string', default: '1' },
    'no-torch': { type: 'boolean', default: false },
    threads: { type: 'string', default: '1' },
  },
});

const dir = path.join('runs', 'bench-data', `mosi-synth-${args.scale}`);
if (!fs.existsSync(path.join(dir, 'unaligned_50.pkl'))) {
  await synthesizeDataset({ like: 'mosi', scale: Number(args.scale), seed: 1111, out: dir });
}
const backend = await initBackend({ backend: 'auto' });
const data = await loadDataset(dir);
const bert = readBertConfig(path.join(dir, 'config.json'));
console.log(
  `bench/train-epoch | backend ${backend.name} (${backend.device}) | synthetic MOSI x${args.scale}: ` +
    `train ${data.splits.train.size}, valid ${data.splits.valid.size}, test ${data.splits.test.size} | batch 32`,
);

const variants = [
  { name: 'tiny', freeze: false },
  { name: 'frozen-cache', freeze: true },
];
const ours = new Map<string, number>();
for (const v of variants) {
  const config = buildTrainerConfig({
    preset: 'mosi',
    overrides: {
      num_epochs: 1,
      text_encoder: { freeze: v.freeze, trainable_layers: null, micro_batch: 0 },
    },
  });
  const trainer = new Trainer({
    config,
    data,
    batches: new DatasetBatches(data, { batchSize: 32, seed: 1, shuffle: true }),
    bert,
  });
  const t0 = performance.now();
  await trainer.run();
  const s = (performance.now() - t0) / 1000;
  trainer.dispose();
  ours.set(v.name, s);
  console.log(`ours    ${v.name.padEnd(13)} ${s.toFixed(1).padStart(7)} s/epoch`);
}

const python = '/usr/bin/python3';
let torchOk = !args['no-torch'] && fs.existsSync(python);
if (torchOk) {
  try {
    execFileSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
  } catch {
    torchOk = false;
  }
}
if (!torchOk) {
  console.log('PyTorch side skipped (--no-torch, or Debian python3-torch not installed)');
} else {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'torch_epoch.py');
  for (const v of variants) {
    const c = buildTrainerConfig({ preset: 'mosi' });
    const m = modelConfigFor(
      c,
      { visual: data.splits.train.visualDim, acoustic: data.splits.train.acousticDim },
      bert,
    );
    const cfg = {
      model: { ...m, n_class: 1 },
      freeze: v.freeze,
      batch_size: 32,
      lr_main: c.lr_main,
      lr_bert: c.lr_bert,
      lr_mmilb: c.lr_mmilb,
      alpha: c.alpha,
      beta: c.beta,
    };
    const threads = args.threads;
    const out = execFileSync(
      python,
      [script, path.join(dir, 'unaligned_50.pkl'), JSON.stringify(cfg), threads],
      {
        encoding: 'utf8',
        env: { ...process.env, OPENBLAS_NUM_THREADS: threads, OMP_NUM_THREADS: threads },
      },
    );
    const r = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { seconds: number };
    const mine = ours.get(v.name) ?? NaN;
    console.log(
      `pytorch ${v.name.padEnd(13)} ${r.seconds.toFixed(1).padStart(7)} s/epoch (${threads} thread(s)${v.freeze ? ', BERT run every step' : ''}) | ours/pytorch speed ${(r.seconds / mine).toFixed(2)}x`,
    );
  }
}
