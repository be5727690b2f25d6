/**
 * bench/synthetic-learning: what MMIM reaches on synthetic MOSI / MOSEI, beside the baselines of
 * docs/synthetic-data.md computed on the same data (the oracle, the lexicon rows, and the rows
 * fitted on the training split alone), with the machine's load. One command:
 *
 *   npm run bench:synthetic-learning -- [--like mosi|mosei] [--scale 1] [--seed 1111]
 *     [--epochs 10] [--lr-bert 1e-3] [--batch N] [--json out.json]
 *
 * Training: the dataset's preset (the authors' settings), a randomly initialised tiny BERT (the
 * config `mmim data synth` writes) with lr_bert 1e-3 as the README recommends for it, the trainer
 * seed = --seed; the epoch is selected on valid (lowest valid MAE) and its test metrics are
 * reported. The data is generated in memory (full-size MOSEI needs about 5 GB of it).
 */
import fs from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { initBackend } from '@mmim/runtime';
import { CEILING_KINDS, generateSyntheticDataset, syntheticCeilings } from '@mmim/data';
import type { CeilingName, RegressionMetrics } from '@mmim/data';
import { TINY_BERT } from '@mmim/model';
import { DatasetBatches, Trainer, buildTrainerConfig, type EvalResult } from '@mmim/trainer';

const { values: args } = parseArgs({
  options: {
    like: { type: 'string', default: 'mosi' },
    scale: { type: 'string', default: '1' },
    seed: { type: 'string', default: '1111' },
    epochs: { type: 'string', default: '10' },
    'lr-bert': { type: 'string', default: '1e-3' },
    batch: { type: 'string' },
    json: { type: 'string' },
  },
});
const like = args.like;
if (like !== 'mosi' && like !== 'mosei')
  throw new Error(`--like must be mosi or mosei, got '${like}'`);
const scale = Number(args.scale);
const seed = Number(args.seed);
const epochs = Number(args.epochs);
const lrBert = Number(args['lr-bert']);

const load = (): string =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
const started = { wall: performance.now(), cpu: process.cpuUsage(), load: load() };
const backend = await initBackend({ backend: 'wasm' });

const gen = generateSyntheticDataset({ like, scale, seed });
const { train, valid, test } = gen.dataset.splits;
const baselines = syntheticCeilings(gen, like);
const generated = (performance.now() - started.wall) / 1000;

const config = buildTrainerConfig({
  preset: like,
  overrides: {
    num_epochs: epochs,
    lr_bert: lrBert,
    seed,
    ...(args.batch === undefined ? {} : { batch_size: Number(args.batch) }),
  },
});
console.log(
  `bench/synthetic-learning | synthetic ${like} x${scale}, seed ${seed}: train ${train.size}, ` +
    `valid ${valid.size}, test ${test.size} (generated + baselines in ${generated.toFixed(0)} s) | ` +
    `MMIM: preset ${like}, random tiny BERT (vocab ${gen.vocab.length}), lr_bert ${lrBert}, ` +
    `batch ${config.batch_size}, ${epochs} epochs | ${backend.device} | ${os.cpus().length} cores, ` +
    `load ${started.load}`,
);

const row = (name: string, m: RegressionMetrics): string =>
  `| ${name.padEnd(34)} | ${m.mae.toFixed(3)} | ${m.corr.toFixed(3)} | ` +
  `${(100 * m.acc2Has0).toFixed(1).padStart(4)} | ${(100 * m.acc2Non0).toFixed(1).padStart(4)} | ` +
  `${(100 * m.acc7).toFixed(1).padStart(4)} |`;
// The baselines first: a long run (full-size MOSEI) shows them before its first epoch ends.
console.log(`baselines on test (${test.size} clips), fitted on train:`);
for (const name of Object.keys(CEILING_KINDS) as CeilingName[]) {
  console.log(row(`${name} (${CEILING_KINDS[name]})`, baselines[name]));
}

const trainer = new Trainer({
  config,
  data: gen.dataset,
  batches: new DatasetBatches(gen.dataset, {
    batchSize: config.batch_size,
    seed,
    shuffle: config.shuffle,
  }),
  bert: { ...TINY_BERT, vocab_size: gen.vocab.length },
  onEvent: (e) => {
    if (e.type !== 'epoch') return;
    const r = e.record;
    console.log(
      `  epoch ${String(r.epoch).padStart(2)}  ${r.seconds.toFixed(0).padStart(5)} s  ` +
        `valid MAE ${r.valid.mae.toFixed(3)}  test MAE ${r.test.mae.toFixed(3)} Corr ` +
        `${r.test.corr.toFixed(3)} Acc-2 ${(100 * r.test.acc2_non0).toFixed(1)}` +
        `${r.selected ? '  (selected)' : ''}  load ${load()}`,
    );
  },
});
const result = await trainer.run();
trainer.dispose();
const cpu = process.cpuUsage(started.cpu);
const wall = (performance.now() - started.wall) / 1000;

const fromEval = (m: EvalResult): RegressionMetrics => ({
  mae: m.mae,
  corr: m.corr,
  acc2Has0: m.acc2_has0,
  acc2Non0: m.acc2_non0,
  acc7: m.acc7,
});
const best = result.bestTest;
console.log(
  `\ntest split (${test.size} clips); MMIM at the epoch selected on valid (${result.best?.epoch ?? '-'})\n` +
    `| ${'estimator'.padEnd(34)} | MAE   | Corr  | Acc-2 has0 | Acc-2 non0 | Acc-7 |`,
);
for (const name of Object.keys(CEILING_KINDS) as CeilingName[]) {
  console.log(row(`${name} (${CEILING_KINDS[name]})`, baselines[name]));
  if (name === 'latent' && best !== null)
    console.log(row(`MMIM, ${epochs} epochs (trained)`, fromEval(best)));
}
const summary =
  `wall ${wall.toFixed(0)} s, process CPU ${((cpu.user + cpu.system) / 1e6).toFixed(0)} s | ` +
  `load (1/5/15 min) at start ${started.load}, at end ${load()}`;
console.log(summary);

if (args.json !== undefined) {
  fs.writeFileSync(
    args.json,
    JSON.stringify(
      {
        like,
        scale,
        seed,
        sizes: { train: train.size, valid: valid.size, test: test.size },
        config,
        baselines,
        kinds: CEILING_KINDS,
        mmim: best === null ? null : fromEval(best),
        selectedEpoch: result.best?.epoch ?? null,
        history: result.history.map((r) => ({
          epoch: r.epoch,
          seconds: r.seconds,
          valid: fromEval(r.valid),
          test: fromEval(r.test),
        })),
        wallSeconds: wall,
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        loadStart: started.load,
        loadEnd: load(),
        cores: os.cpus().length,
      },
      null,
      2,
    ) + '\n',
  );
}
