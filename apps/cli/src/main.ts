/**
 * `mmim`: the command line of the MMIM trainer. Each subcommand lives in commands/.
 * Exit codes (exit-codes.ts): 0 ok, 1 failed, 2 bad usage (unknown flag, bad value, invalid
 * config or request), 3 refused (the coordinator refused the token).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
// Only light modules here: each command loads its own code when it runs (`mmim --help` and the
// API commands must answer at once; the training commands bring TF.js with them).
import type { runDistributedTrain as RunDistributedTrain } from './commands/cluster.js';
import type { ApiFlags } from './commands/sweep.js';
import { BACKEND_FLAG_CHOICES, UsageError, parseSeeds } from './usage.js';
import { registerTrialCommands } from './commands/trial.js';
import { exitCodeOf } from './exit-codes.js';
import { typescriptModule } from './ts-loader.js';

// The commands that train or start processes stay TypeScript in the compiled CLI (see
// ts-loader.ts and scripts/build.mjs); the API commands (sweep, trial) are compiled in.
const train_ = typescriptModule(() => import('./commands/train.js'));
const trainData = typescriptModule(() => import('./commands/train-data.js'));
const cluster = typescriptModule(() => import('./commands/cluster.js'));
const sweeps = () => import('./commands/sweep.js');
const roles = typescriptModule(() => import('./commands/roles.js'));
const dataCommands = typescriptModule(() => import('./commands/data.js'));
const evalCommand = typescriptModule(() => import('./commands/eval.js'));
const exportCommand = typescriptModule(() => import('./commands/export.js'));

type BackendFlag = (typeof BACKEND_FLAG_CHOICES)[number];

const program = new Command();
program
  .name('mmim')
  .description('Train MMIM (MultiModal InfoMax) with TensorFlow.js')
  .showHelpAfterError()
  .exitOverride();

/** `--exchange-redis auto|URL`: the per-step exchange on its own Redis (no persistence). */
const exchangeRedisOption = (): Option =>
  new Option(
    '--exchange-redis <auto|url>',
    "a second Redis for the per-step exchange only ('auto': start one without AOF)",
  ).argParser((v) => {
    if (v !== 'auto' && !/^rediss?:\/\//.test(v))
      throw new UsageError(`--exchange-redis: expected auto or a redis:// URL, got '${v}'`);
    return v;
  });

const backendOption = (): Option =>
  new Option(
    '--backend <name>',
    'TF.js backend (default: MMIM_BACKEND or the fastest installed)',
  ).choices(BACKEND_FLAG_CHOICES);

function toInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`expected a positive integer, got '${value}'`);
  return n;
}

function toNonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`expected a non-negative integer, got '${value}'`);
  return n;
}

function toPort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError(`expected a port number (0-65535), got '${value}'`);
  return n;
}

function toNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError(`expected a number, got '${value}'`);
  return n;
}

/** Flags that map onto trainer config keys (a flag beats the config file). */
const KEY_FLAGS: [flag: string, key: string, parse: (v: string) => unknown, help: string][] = [
  ['--epochs <n>', 'num_epochs', toInt, 'epochs'],
  ['--batch-size <n>', 'batch_size', toInt, 'samples per batch'],
  ['--lr-main <x>', 'lr_main', toNumber, 'learning rate of the main parameters'],
  ['--lr-bert <x>', 'lr_bert', toNumber, 'learning rate of BERT'],
  ['--lr-mmilb <x>', 'lr_mmilb', toNumber, 'learning rate of the MMILB parameters'],
  ['--alpha <x>', 'alpha', toNumber, 'weight of the CPC term'],
  ['--beta <x>', 'beta', toNumber, 'weight of the MMILB terms'],
  ['--dropout <x>', 'dropout', toNumber, 'override every dropout rate (0 for parity runs)'],
  [
    '--max-batches-per-stage <n>',
    'max_batches_per_stage',
    toInt,
    'cap each stage (smoke and parity runs)',
  ],
  ['--patience <n>', 'patience', toInt, 'early stopping patience'],
  [
    '--update-batch <n>',
    'update_batch',
    toInt,
    'sum the gradients of N batches per optimiser step',
  ],
  // 0 is valid: the authors' scheduler then reduces at every epoch without improvement.
  ['--when <n>', 'when', toNonNegativeInt, 'ReduceLROnPlateau patience'],
];

/** The trainer config keys given as flags (commander names them in camelCase). */
function keyFlagValues(opts: Record<string, unknown>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [flag, key] of KEY_FLAGS) {
    const prop =
      flag
        .slice(2)
        .split(' ')[0]
        ?.replace(/-([a-z])/g, (_, ch: string) => ch.toUpperCase()) ?? '';
    if (opts[prop] !== undefined) values[key] = opts[prop];
  }
  return values;
}

const train = program
  .command('train')
  .description(
    'train MMIM on a dataset (--data), or a short run on generated batches (--synthetic)',
  )
  .option('--data <path>', 'dataset file or folder (MMSA pickle, MMIM-repo pickle + label CSV)')
  .option('--synthetic', 'a short run on generated MOSI-shaped batches (no dataset needed)')
  .option('--config <file>', 'trainer config (YAML or JSON)')
  .option('--preset <name>', "the authors' per-dataset values: mosi | mosei")
  .option('--bert <dir>', 'HuggingFace BERT folder (config.json, vocab.txt, model.safetensors)')
  .option('--bert-config <file>', 'BERT config.json only (weights random or from --init)')
  .option(
    '--init <file>',
    'start from these MMIM weights (ours or a PyTorch state dict as safetensors)',
  )
  .option('--resume <file>', 'continue from a training checkpoint (last.safetensors)')
  .option('--save <file>', 'also write the final weights (reference names) here at the end')
  .option('--out <dir>', 'checkpoints and outputs', 'runs/train')
  .option('--seeds <list>', 'comma-separated seeds; prints mean ± std over them')
  .option('--seed <n>', 'seed of init, data order and dropout', (v) => Number(v))
  .option('--no-shuffle', 'keep the training set in file order')
  .option('--reference-selection', 'select the checkpoint as the reference does (peeks at test)')
  .option('--freeze-bert', 'freeze BERT and cache its [CLS] features once per split')
  .option('--trainable-layers <n>', 'fine-tune only the top N BERT layers', (v) => Number(v))
  .option(
    '--micro-batch <n>',
    'run BERT in micro-batches of N samples (same gradients, less memory)',
    (v) => Number(v),
  )
  .option('--sanitize', 'zero NaN/Inf features (and report how many) instead of failing')
  .option(
    '--cache-dir <dir>',
    'keep preprocessed datasets here (keyed by file content and options)',
  )
  .option('--print-config', 'print the resolved trainer config and exit')
  .option('--batches <n>', '(--synthetic) training batches per epoch', toInt, 4)
  .option('--json', 'one JSON object per line instead of progress bars')
  .option(
    '--workers <k>',
    'train data-parallel on a local cluster of K worker processes (exactly the 1-worker result)',
    toInt,
  )
  .option('--redis <url>', '(--workers) use this Redis instead of starting one')
  .addOption(exchangeRedisOption())
  .addOption(backendOption());
for (const [flag, , parse, help] of KEY_FLAGS) train.option(flag, help, parse);
train.action(async (opts: Record<string, unknown>) => {
  if (opts.workers !== undefined) {
    const options = distributedTrainOptions(opts, (o) => train.getOptionValueSource(o) === 'cli');
    await (await cluster()).runDistributedTrain(options);
    return;
  }
  if (opts.synthetic && opts.data === undefined) {
    await (
      await train_()
    ).runQuickTrain({
      synthetic: true,
      epochs: (opts.epochs as number | undefined) ?? 2,
      batches: opts.batches as number,
      batchSize: (opts.batchSize as number | undefined) ?? 16,
      seed: (opts.seed as number | undefined) ?? 1111,
      out: opts.out === 'runs/train' ? 'runs/quickstart' : (opts.out as string),
      json: opts.json as boolean | undefined,
      backend: opts.backend as BackendFlag | undefined,
    });
    return;
  }
  if (typeof opts.data !== 'string' && !opts.printConfig) {
    throw new UsageError('give --data FILE|DIR (or --synthetic for a quick run)');
  }
  if (opts.bert !== undefined && opts.bertConfig !== undefined)
    throw new UsageError('--bert and --bert-config exclude each other');
  const overrides: Record<string, unknown> = {};
  Object.assign(overrides, keyFlagValues(opts));
  if (opts.seed !== undefined) overrides.seed = opts.seed;
  if (opts.shuffle === false) overrides.shuffle = false;
  if (opts.referenceSelection) overrides.reference_selection = true;
  const te: Record<string, unknown> = {};
  if (opts.freezeBert) te.freeze = true;
  if (opts.trainableLayers !== undefined) te.trainable_layers = opts.trainableLayers;
  if (opts.microBatch !== undefined) te.micro_batch = opts.microBatch;
  if (Object.keys(te).length > 0) overrides.text_encoder = te;
  await (
    await trainData()
  ).runTrainOnData({
    data: (opts.data as string | undefined) ?? '',
    config: opts.config as string | undefined,
    preset: opts.preset as string | undefined,
    bert: opts.bert as string | undefined,
    bertConfig: opts.bertConfig as string | undefined,
    init: opts.init as string | undefined,
    resume: opts.resume as string | undefined,
    save: opts.save as string | undefined,
    out: opts.out as string,
    seeds: opts.seeds as string | undefined,
    sanitize: opts.sanitize as boolean | undefined,
    cacheDir: opts.cacheDir as string | undefined,
    printConfig: opts.printConfig as boolean | undefined,
    json: opts.json as boolean | undefined,
    backend: opts.backend as BackendFlag | undefined,
    overrides,
  });
});

/**
 * `mmim train` flags that `--workers K` cannot honour, each with why: refused as a usage error
 * rather than dropped (the rest map onto the trial spec below).
 */
const NOT_WITH_WORKERS: [option: string, flag: string, why: string][] = [
  ['config', '--config', 'pass its keys as flags (or run a sweep file)'],
  ['sanitize', '--sanitize', 'workers load the dataset file as it is'],
  ['cacheDir', '--cache-dir', 'each worker keeps its own cache under its run dir'],
  ['microBatch', '--micro-batch', 'each rank already runs only its share of the batch'],
  ['printConfig', '--print-config', 'run it without --workers'],
  ['batches', '--batches', 'with --workers, --synthetic trains on a generated MOSI dataset'],
];

/** Reads `--bert-config FILE` into the trial spec's BERT overrides (every worker gets the JSON). */
function bertConfigOverrides(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--bert-config ${file}: ${(err as Error).message}`);
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`--bert-config ${file}: ${(err as Error).message}`);
  }
}

/** What `train --workers K` sends to the coordinator: the trial spec's parts, one trial per seed. */
function distributedTrainOptions(
  opts: Record<string, unknown>,
  given: (option: string) => boolean,
): Parameters<typeof RunDistributedTrain>[0] {
  if (opts.data === undefined && !opts.synthetic) {
    throw new UsageError('give --data FILE|DIR or --synthetic with --workers');
  }
  const refused = NOT_WITH_WORKERS.filter(([option]) => given(option));
  if (refused.length > 0) {
    throw new UsageError(
      `not with --workers: ${refused.map(([, flag, why]) => `${flag} (${why})`).join('; ')}`,
    );
  }
  if (opts.bert !== undefined && opts.bertConfig !== undefined)
    throw new UsageError('--bert and --bert-config exclude each other');
  if (opts.resume !== undefined && opts.init !== undefined)
    throw new UsageError('--resume and --init exclude each other');
  const trainer: Record<string, unknown> = {};
  if (typeof opts.preset === 'string') trainer.preset = opts.preset;
  Object.assign(trainer, keyFlagValues(opts));
  if (opts.shuffle === false) trainer.shuffle = false;
  if (opts.referenceSelection) trainer.reference_selection = true;
  const te: Record<string, unknown> = {};
  if (opts.freezeBert) te.freeze = true;
  if (opts.trainableLayers !== undefined) te.trainable_layers = opts.trainableLayers;
  if (Object.keys(te).length > 0) trainer.text_encoder = te;
  if (opts.synthetic && trainer.num_epochs === undefined) trainer.num_epochs = 2;
  const seeds =
    typeof opts.seeds === 'string'
      ? parseSeeds(opts.seeds)
      : [(opts.seed as number | undefined) ?? 1111];
  // Paths every worker reads: absolute, since workers run in their own directories.
  const start: Record<string, string> = {};
  if (typeof opts.bert === 'string') start.bertDir = path.resolve(opts.bert);
  if (typeof opts.init === 'string') start.init = path.resolve(opts.init);
  if (typeof opts.resume === 'string') start.resume = path.resolve(opts.resume);
  return {
    workers: opts.workers as number,
    data:
      typeof opts.data === 'string'
        ? { kind: 'file', path: path.resolve(opts.data) }
        : { kind: 'synthetic', dataset: 'mosi' },
    trainer,
    seeds,
    runDir: opts.out === 'runs/train' ? 'runs/train-cluster' : (opts.out as string),
    ...(typeof opts.bertConfig === 'string' ? { bert: bertConfigOverrides(opts.bertConfig) } : {}),
    ...(Object.keys(start).length > 0 ? { start } : {}),
    ...(typeof opts.save === 'string' ? { save: path.resolve(opts.save) } : {}),
    ...(typeof opts.redis === 'string' ? { redis: opts.redis } : {}),
    ...(typeof opts.exchangeRedis === 'string' ? { exchangeRedis: opts.exchangeRedis } : {}),
    ...(typeof opts.backend === 'string' ? { backend: opts.backend } : {}),
    ...(opts.json ? { json: true } : {}),
  };
}

program
  .command('up')
  .description(
    'start a local cluster: Redis (unless --redis), the coordinator with its dashboard, N workers',
  )
  .option('--workers <n>', 'worker processes', toInt, 2)
  .option('--redis <url>', 'use this Redis (default: start redis-server with AOF under --run-dir)')
  .addOption(exchangeRedisOption())
  .option('--run-dir <dir>', 'tokens, Redis data and logs', 'runs/cluster')
  .option('--port <n>', 'coordinator gRPC port (default: a free one)', toPort)
  .option('--http-port <n>', 'dashboard port (default 8080, or a free one)', toPort)
  .option('--sweep <file>', 'start this sweep once the cluster is up and follow it')
  .option('--exit-when-done', 'with --sweep: stop the cluster when the sweep has finished')
  .option('--json', 'one JSON object per line')
  .addOption(backendOption())
  .action(async (o: Record<string, unknown>) =>
    (await cluster()).runUp({
      workers: o.workers as number,
      runDir: o.runDir as string,
      ...(typeof o.redis === 'string' ? { redis: o.redis } : {}),
      ...(typeof o.exchangeRedis === 'string' ? { exchangeRedis: o.exchangeRedis } : {}),
      ...(typeof o.port === 'number' ? { port: o.port } : {}),
      ...(typeof o.httpPort === 'number' ? { httpPort: o.httpPort } : {}),
      ...(typeof o.sweep === 'string' ? { sweep: o.sweep } : {}),
      ...(o.exitWhenDone ? { exitWhenDone: true } : {}),
      ...(typeof o.backend === 'string' ? { backend: o.backend } : {}),
      ...(o.json ? { json: true } : {}),
    }),
  );

program
  .command('coordinator')
  .description(
    'run the coordinator (gRPC for workers, dashboard and API over HTTP); --help for flags',
  )
  .helpOption(false)
  .allowUnknownOption()
  .allowExcessArguments()
  .argument('[args...]')
  .action(async (args: string[]) => (await roles()).runCoordinatorCommand(args));

program
  .command('worker')
  .description(
    'run one worker: --coordinator HOST:PORT --token-file F --redis URL; --help for flags',
  )
  .helpOption(false)
  .allowUnknownOption()
  .allowExcessArguments()
  .argument('[args...]')
  .action(async (args: string[]) => (await roles()).runWorkerCommand(args));

const sweep = program
  .command('sweep')
  .description('hyperparameter sweeps on a coordinator (a local one from `mmim up` by default)');
const apiOptions = (c: Command): Command =>
  c
    .option('--url <url>', 'coordinator HTTP address (default: MMIM_URL or the local cluster)')
    .option('--admin-token-file <file>', 'admin token (default: MMIM_ADMIN_TOKEN or the local one)')
    .option('--run-dir <dir>', 'the local cluster to talk to', 'runs/cluster')
    .option('--json', 'machine-readable output');
apiOptions(
  sweep.command('create').description('start a sweep from a YAML file').argument('<file>'),
).action(async (file: string, o: ApiFlags) => (await sweeps()).sweepCreate(file, o));
apiOptions(sweep.command('ls').description('list sweeps')).action(async (o: ApiFlags) =>
  (await sweeps()).sweepList(o),
);
apiOptions(
  sweep
    .command('status')
    .description('a sweep and its trials')
    .argument('<id>')
    .option('--watch', 'refresh every 2 s until the sweep ends'),
).action(async (id: string, o: ApiFlags & { watch?: boolean }) =>
  (await sweeps()).sweepStatus(id, o),
);
for (const action of ['pause', 'resume', 'cancel'] as const) {
  apiOptions(
    sweep.command(action).description(`${action} a sweep (admin token)`).argument('<id>'),
  ).action(async (id: string, o: ApiFlags) => (await sweeps()).sweepAction(action, id, o));
}
apiOptions(
  sweep
    .command('delete')
    .description('delete an ended sweep, its trials and their checkpoints (admin token)')
    .argument('<id>')
    .option('--yes', 'really delete (nothing is kept)'),
).action(async (id: string, o: ApiFlags & { yes?: boolean }) =>
  (await sweeps()).sweepDelete(id, o),
);
apiOptions(
  sweep
    .command('best')
    .description('the best config: per-seed metrics, mean ± std, checkpoints')
    .argument('<id>')
    .option('--download <dir>', 'save the best checkpoints of its seeds here'),
).action(async (id: string, o: ApiFlags & { download?: string }) =>
  (await sweeps()).sweepBest(id, o),
);

apiOptions(
  sweep
    .command('gc')
    .description("apply the sweep's checkpoint retention now (admin token), or show it")
    .argument('<id>')
    .option('--dry-run', 'only show what would be deleted and kept, and why'),
).action(async (id: string, o: ApiFlags & { dryRun?: boolean }) => (await sweeps()).sweepGc(id, o));

registerTrialCommands(program, apiOptions);

program
  .command('eval')
  .description('metrics (and predictions) of a checkpoint on one split')
  .requiredOption(
    '--checkpoint <file>',
    'MMIM weights (ours, or a PyTorch state dict as safetensors)',
  )
  .requiredOption('--data <path>', 'dataset file or folder')
  .option('--split <name>', 'train | valid | test', 'test')
  .option('--bert-config <file>', 'BERT config.json (head count etc. for PyTorch checkpoints)')
  .option('--output <file>', 'write the predictions as a JSON array in dataset order')
  .option('--batch-size <n>', 'evaluation batch size', toInt, 32)
  .option('--json', 'machine-readable output')
  .addOption(backendOption())
  .action(async (...args: Parameters<typeof import('./commands/eval.js').runEval>) =>
    (await evalCommand()).runEval(...args),
  );

program
  .command('export')
  .description('write the weights alone (reference names) for PyTorch users')
  .requiredOption('--checkpoint <file>', 'a training checkpoint or weights file')
  .requiredOption('--out <file>', 'output .safetensors')
  .action(async (...args: Parameters<typeof import('./commands/export.js').runExport>) =>
    (await exportCommand()).runExport(...args),
  );

const data = program
  .command('data')
  .description('datasets: generate synthetic ones, inspect files');
data
  .command('synth')
  .description(
    'write a synthetic MOSI- or MOSEI-like dataset (MMSA unaligned_50.pkl + vocab.txt + BERT config.json)',
  )
  .requiredOption('--like <name>', 'mosi | mosei')
  .option('--scale <f>', 'scale the split sizes', toNumber, 1)
  .option('--seed <n>', 'seed', toNonNegativeInt, 1111)
  .requiredOption('--out <dir>', 'output folder')
  .option('--json', 'print the report as JSON')
  .action(async (...args: Parameters<typeof import('./commands/data.js').runSynth>) =>
    (await dataCommands()).runSynth(...args),
  );
data
  .command('inspect')
  .description('what a dataset file holds: format, splits, dims, lengths, labels, problems')
  .argument('<path>', 'dataset file or folder')
  .option('--json', 'print the report as JSON')
  .action(async (p: string, o: { json?: boolean }) =>
    (await dataCommands()).runInspect({ path: p, json: o.json }),
  );

program.parseAsync(process.argv).catch((err: unknown) => {
  // Commander already printed its problem (and --help its text).
  if (!(err instanceof CommanderError))
    process.stderr.write(`mmim: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(exitCodeOf(err));
});
