/**
 * bench/model-step: training throughput of one MMIM stage-1 step (forward, backward, clipping,
 * Adam) on MOSI-shaped batches (batch 32, 50 tokens, audio 375 x 5, vision 500 x 20), for:
 *   tiny          a 2-layer, 128-hidden BERT, all trainable;
 *   base-frozen   BERT-base-sized (random weights), frozen;
 *   base-top-N    BERT-base-sized with the top N layers trainable, BERT in micro-batches (CPU
 *                 backends: the wasm heap, 4 GB, does not hold a whole batch's activations);
 *   base-full     BERT-base fully fine-tuned on the whole batch of 32 (GPU backends).
 * Several backends run side by side (`--backend webgpu,wasm`), each configuration in a fresh
 * process; wasm is added as the baseline when not asked for (its tiny configuration only, unless
 * --only; `--no-baseline` to skip it). When Debian's PyTorch is installed (/usr/bin/python3 with torch), the same
 * configurations run in PyTorch in the same invocation and the ratios ours / PyTorch are printed.
 *
 *   npm run bench:model-step -- [--backend wasm|webgpu|webgpu,wasm|...] [--steps N]
 *     [--only tiny,base-frozen,base-top,base-full] [--base-top N] [--micro M] [--no-torch]
 *     [--timeout SECONDS] [--json FILE] [--no-baseline]
 *
 * Default configurations: tiny, base-frozen and base-top-N on CPU backends; tiny, base-frozen
 * and base-full on GPU backends (webgpu, tensorflow-gpu). `--json` also writes every result.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendChoice, type BackendInfo } from '@mmim/runtime';
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
    timeout: { type: 'string', default: '600' },
    json: { type: 'string' },
    'no-baseline': { type: 'boolean', default: false },
    child: { type: 'string' },
  },
});

const GPU_BACKENDS = new Set(['webgpu', 'tensorflow-gpu']);
const asked = (args.backend ?? 'auto').split(',').filter((b) => b.length > 0);
/** The backends to run: as asked, plus wasm as the side-by-side baseline when it is missing. */
const backends =
  asked.includes('wasm') || args['no-baseline'] || args.child !== undefined
    ? asked
    : [...asked, 'wasm'];
/** The baseline wasm run (not asked for) times only the cheap configuration unless --only says. */
const baselineOnly = !asked.includes('wasm') && args.only === undefined;

interface BenchConfig {
  name: string;
  /** Where it runs by default (without --only). */
  on: 'cpu' | 'gpu' | 'both';
  /** BERT micro-batch (0 = whole batch). */
  micro: number;
  bert: BertConfig;
  freeze: boolean;
  trainable_layers: number | null;
}

const noDropout = { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 };
const baseTop = Number(args['base-top']);
const allConfigs: BenchConfig[] = [
  {
    name: 'tiny',
    on: 'both',
    bert: { ...TINY_BERT, ...noDropout },
    freeze: false,
    trainable_layers: null,
    micro: 0,
  },
  {
    name: 'base-frozen',
    on: 'both',
    bert: { ...BERT_BASE, ...noDropout },
    freeze: true,
    trainable_layers: null,
    micro: 0,
  },
  {
    name: `base-top-${baseTop}`,
    on: 'cpu',
    bert: { ...BERT_BASE, ...noDropout },
    freeze: false,
    trainable_layers: baseTop,
    micro: Number(args.micro),
  },
  {
    name: 'base-full',
    on: 'gpu',
    bert: { ...BERT_BASE, ...noDropout },
    freeze: false,
    trainable_layers: null,
    micro: 0,
  },
];
const configs = allConfigs.filter(
  (c) => args.only === undefined || args.only.split(',').some((o) => c.name.startsWith(o)),
);

/** The configurations a backend runs: all of --only, else those made for its kind. */
function configsFor(backend: string): BenchConfig[] {
  const kind = GPU_BACKENDS.has(backend) ? 'gpu' : 'cpu';
  // base-full does not fit the wasm heap (4 GB): never on a CPU backend.
  if (args.only !== undefined) return configs.filter((c) => kind === 'gpu' || c.on !== 'gpu');
  if (backend === 'wasm' && baselineOnly) return configs.filter((c) => c.name === 'tiny');
  return configs.filter((c) => c.on === 'both' || c.on === kind);
}

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
  await initBackend({ backend: (args.backend as BackendChoice | undefined) ?? 'auto' });
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
  // Warm-up: kernels compile (WGSL pipelines, CUDA JIT), memory settles, the entropy memory fills.
  await stepper.step(batches[0]!);
  await stepper.step(batches[1]!);
  // Each step awaits its report (the one read of the step), so the time is the device's too.
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await stepper.step(batches[i % 2]!);
  const ms = (performance.now() - t0) / steps;
  const mem = tf.memory();
  process.stdout.write(
    `${JSON.stringify({ name, ms, tensors: mem.numTensors, bytes: mem.numBytes })}\n`,
  );
}

interface Result {
  backend: string;
  device: string;
  name: string;
  msPerStep: number | null;
  samplesPerSecond: number | null;
  error?: string;
}

/** argv without the flags the parent sets per child. */
function passthroughArgs(): string[] {
  const drop = new Set(['--only', '--backend', '--json']);
  return process.argv
    .slice(2)
    .filter(
      (a, i, all) => !drop.has(a) && !drop.has(all[i - 1] ?? '') && !a.startsWith('--backend='),
    );
}

async function main(): Promise<void> {
  if (args.child !== undefined) return runChild(args.child);
  const results: Result[] = [];
  const ours = new Map<string, number>();
  let threads = 1;
  const self = fileURLToPath(import.meta.url);
  for (const choice of backends) {
    let backend: BackendInfo;
    try {
      backend = await initBackend({ backend: choice as BackendChoice });
    } catch (err) {
      console.log(`backend ${choice}: ${(err as Error).message}`);
      results.push({
        backend: choice,
        device: '',
        name: '*',
        msPerStep: null,
        samplesPerSecond: null,
        error: (err as Error).message,
      });
      continue;
    }
    if (backend.name === 'wasm' || backend.name === 'cpu') threads = backend.threads;
    console.log(
      `bench/model-step | backend ${backend.name} (${backend.device}) | batch ${SHAPE.size}, ${steps} timed steps after 2 warm-up steps`,
    );
    // Each configuration in a fresh process: the wasm heap never shrinks, BERT-base's
    // fine-tuning needs most of its 4 GB, and a GPU's memory is returned between runs.
    for (const c of configsFor(backend.name)) {
      let out: string;
      const row: Result = {
        backend: backend.name,
        device: backend.device,
        name: c.name,
        msPerStep: null,
        samplesPerSecond: null,
      };
      try {
        out = execFileSync(
          process.execPath,
          [
            '--import',
            'tsx',
            self,
            ...passthroughArgs(),
            '--backend',
            backend.name,
            '--child',
            c.name,
          ],
          {
            encoding: 'utf8',
            env: { ...process.env, MMIM_LOG_LEVEL: 'warn' },
            stdio: ['ignore', 'pipe', 'inherit'],
            maxBuffer: 1 << 20,
            timeout: Number(args.timeout) * 1000,
          },
        );
      } catch (err) {
        const why = (err as Error).message.split('\n')[0] ?? '';
        console.log(`ours    ${backend.name.padEnd(8)} ${c.name.padEnd(14)} FAILED: ${why}`);
        results.push({ ...row, error: why });
        continue;
      }
      const { ms } = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { ms: number };
      const perSecond = SHAPE.size / (ms / 1000);
      if (backend.name === 'wasm' || backends.length === 1) ours.set(c.name, perSecond);
      results.push({ ...row, msPerStep: ms, samplesPerSecond: perSecond });
      console.log(
        `ours    ${backend.name.padEnd(8)} ${c.name.padEnd(14)} ${ms.toFixed(ms < 10 ? 2 : 0).padStart(7)} ms/step ${perSecond.toFixed(1).padStart(8)} samples/s` +
          (c.micro > 0 ? ` (BERT micro-batch ${c.micro})` : ''),
      );
    }
  }
  if (args.json !== undefined) fs.writeFileSync(args.json, `${JSON.stringify(results, null, 2)}\n`);
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
  const cpuConfigs = new Set(configsFor('wasm').map((c) => c.name));
  for (const threadCount of [threads, 2].filter((t, i, a) => a.indexOf(t) === i)) {
    const out = execFileSync(
      python,
      [
        script,
        JSON.stringify(torchConfigs.filter((c) => cpuConfigs.has(c.name))),
        String(threadCount),
        String(steps),
      ],
      {
        encoding: 'utf8',
        env: {
          ...process.env,
          OPENBLAS_NUM_THREADS: String(threadCount),
          OMP_NUM_THREADS: String(threadCount),
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
