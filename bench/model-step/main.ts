/**
 * bench/model-step: training throughput of one MMIM stage-1 step (forward, backward, clipping,
 * Adam) on MOSI-shaped batches (batch 32, 50 tokens, audio 375 x 5, vision 500 x 20), for:
 *   tiny       a 2-layer, 128-hidden BERT, all trainable;
 *   base-frozen   BERT-base-sized (random weights), frozen;
 *   base-top-N    BERT-base-sized with the top N layers trainable (the largest that fits).
 * When Debian's PyTorch is installed (/usr/bin/python3 with torch), the same configurations run
 * in PyTorch in the same invocation and the ratios ours / PyTorch are printed.
 *
 *   npm run bench:model-step -- [--steps N] [--only tiny,base-frozen] [--base-top N] [--micro M] [--no-torch]
 *
 * base-top-N runs BERT in micro-batches of M samples (default 4): the wasm heap (4 GB) does not
 * hold BERT-base's activations for a whole batch of 32 (docs/performance.md).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initBackend } from '@mmim/runtime';
import {
  BERT_BASE,
  MmimModel,
  TINY_BERT,
  REFERENCE_OPTIMIZATION,
  TwoStageStepper,
  randomBatch,
  resolveMmimConfig,
  type BertConfig,
} from '@mmim/model';

const { values: args } = parseArgs({
  options: {
    steps: { type: 'string', default: '3' },
    only: { type: 'string' },
    'base-top': { type: 'string', default: '12' },
    'no-torch': { type: 'boolean', default: false },
    micro: { type: 'string', default: '4' },
    backend: { type: 'string' },
    child: { type: 'string' },
  },
});

interface BenchConfig {
  name: string;
  /** BERT micro-batch (0 = whole batch). */
  micro: number;
  bert: BertConfig;
  freeze: boolean;
  trainable_layers: number | null;
}

const noDropout = { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 };
const baseTop = Number(args['base-top']);
const configs: BenchConfig[] = [
  {
    name: 'tiny',
    bert: { ...TINY_BERT, ...noDropout },
    freeze: false,
    trainable_layers: null,
    micro: 0,
  },
  {
    name: 'base-frozen',
    bert: { ...BERT_BASE, ...noDropout },
    freeze: true,
    trainable_layers: null,
    micro: 0,
  },
  {
    name: `base-top-${baseTop}`,
    bert: { ...BERT_BASE, ...noDropout },
    freeze: false,
    trainable_layers: baseTop,
    micro: Number(args.micro),
  },
].filter((c) => args.only === undefined || args.only.split(',').some((o) => c.name.startsWith(o)));

const SHAPE = { size: 32, textLength: 50, visualSteps: 500, acousticSteps: 375 };
const steps = Number(args.steps);

function modelConfig(c: BenchConfig) {
  return resolveMmimConfig({
    bert: c.bert,
    text_encoder: { freeze: c.freeze, trainable_layers: c.trainable_layers },
    d_vin: 20,
    d_ain: 5,
  });
}

/** Time one configuration in this process; prints one JSON line (run by the parent). */
async function runChild(name: string): Promise<void> {
  const c = configs.find((x) => x.name === name);
  if (c === undefined) throw new Error(`unknown configuration '${name}'`);
  await initBackend({ backend: (args.backend as 'wasm' | undefined) ?? 'auto' });
  const config = modelConfig(c);
  const model = MmimModel.initialize(config, 1);
  const stepper = new TwoStageStepper(model, {
    ...REFERENCE_OPTIMIZATION,
    seed: 1,
    textMicroBatch: c.micro,
  });
  const batches = [0, 1].map((i) =>
    randomBatch(config, { ...SHAPE, firstSampleIndex: i * 32 }, i + 1),
  );
  stepper.beginStage(1);
  stepper.step(batches[0]!); // warm-up (kernels, memory), fills the entropy memory
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) stepper.step(batches[(i + 1) % 2]!);
  const ms = (performance.now() - t0) / steps;
  process.stdout.write(`${JSON.stringify({ name, ms })}\n`);
}

async function main(): Promise<void> {
  if (args.child !== undefined) return runChild(args.child);
  const backend = await initBackend({ backend: (args.backend as 'wasm' | undefined) ?? 'auto' });
  console.log(
    `bench/model-step | backend ${backend.name} (${backend.device}) | batch ${SHAPE.size}, ${steps} timed steps`,
  );
  const ours = new Map<string, number>();
  // Each configuration in a fresh process: the wasm heap never shrinks, and BERT-base's
  // fine-tuning needs most of its 4 GB.
  const self = fileURLToPath(import.meta.url);
  for (const c of configs) {
    const passthrough = process.argv
      .slice(2)
      .filter((a, i, all) => a !== '--only' && all[i - 1] !== '--only');
    let out: string;
    try {
      out = execFileSync(
        process.execPath,
        ['--import', 'tsx', self, ...passthrough, '--child', c.name],
        {
          encoding: 'utf8',
          env: { ...process.env, MMIM_LOG_LEVEL: 'warn' },
          stdio: ['ignore', 'pipe', 'inherit'],
          maxBuffer: 1 << 20,
        },
      );
    } catch (err) {
      console.log(`ours    ${c.name.padEnd(14)} FAILED: ${(err as Error).message.split('\n')[0]}`);
      continue;
    }
    const { ms } = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { ms: number };
    ours.set(c.name, SHAPE.size / (ms / 1000));
    console.log(
      `ours    ${c.name.padEnd(14)} ${ms.toFixed(0).padStart(7)} ms/step ${(SHAPE.size / (ms / 1000)).toFixed(1).padStart(8)} samples/s` +
        (c.micro > 0 ? ` (BERT micro-batch ${c.micro})` : ''),
    );
  }
  if (args['no-torch']) return;
  const python = '/usr/bin/python3';
  if (!fs.existsSync(python))
    return console.log('PyTorch side skipped: /usr/bin/python3 not found');
  try {
    execFileSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
  } catch {
    return console.log('PyTorch side skipped: Debian python3-torch is not installed');
  }
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'torch_step.py');
  const torchConfigs = configs.map((c) => {
    const m = modelConfig(c);
    return {
      name: c.name,
      batch: SHAPE.size,
      text_len: SHAPE.textLength,
      tv: SHAPE.visualSteps,
      ta: SHAPE.acousticSteps,
      freeze: c.freeze,
      trainable_layers: c.trainable_layers,
      model: { ...m, bert: m.bert, n_class: 1 },
    };
  });
  for (const threads of [backend.threads, 2].filter((t, i, a) => a.indexOf(t) === i)) {
    const out = execFileSync(
      python,
      [script, JSON.stringify(torchConfigs), String(threads), String(steps)],
      {
        encoding: 'utf8',
        env: {
          ...process.env,
          OPENBLAS_NUM_THREADS: String(threads),
          OMP_NUM_THREADS: String(threads),
        },
        maxBuffer: 1 << 20,
      },
    );
    for (const line of out.trim().split('\n')) {
      const r = JSON.parse(line) as {
        name: string;
        threads: number;
        ms_per_step: number;
        samples_per_s: number;
      };
      const mine = ours.get(r.name) ?? NaN;
      console.log(
        `pytorch ${r.name.padEnd(14)} ${r.ms_per_step.toFixed(0).padStart(7)} ms/step ${r.samples_per_s.toFixed(1).padStart(8)} samples/s ` +
          `(${r.threads} thread${r.threads > 1 ? 's' : ''}) | ours/pytorch ${(mine / r.samples_per_s).toFixed(2)}x`,
      );
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
