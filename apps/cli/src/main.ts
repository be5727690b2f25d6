/**
 * `mmim`: the command line of the MMIM trainer. Each subcommand lives in commands/.
 */
import { Command, Option } from 'commander';
import { runQuickTrain } from './commands/train.js';

const program = new Command();
program
  .name('mmim')
  .description('Train MMIM (MultiModal InfoMax) with TensorFlow.js')
  .showHelpAfterError();

const backendOption = new Option(
  '--backend <name>',
  'TF.js backend (default: MMIM_BACKEND or the fastest installed)',
).choices(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);

program
  .command('train')
  .description('train MMIM; --synthetic runs a short job on generated, MOSI-shaped batches')
  .requiredOption('--synthetic', 'use generated batches (real datasets arrive with @mmim/data)')
  .option('--epochs <n>', 'epochs (stage 0 + stage 1 each)', toInt, 2)
  .option('--batches <n>', 'training batches per epoch', toInt, 4)
  .option('--batch-size <n>', 'samples per batch', toInt, 16)
  .option('--seed <n>', 'seed of the initialisation, data and dropout', toInt, 1111)
  .option('--out <dir>', 'where the final weights go', 'runs/quickstart')
  .option('--json', 'print one JSON object per step instead of text')
  .addOption(backendOption)
  .action(async (opts: QuickTrainCliOptions) => {
    await runQuickTrain(opts);
  });

export interface QuickTrainCliOptions {
  synthetic: boolean;
  epochs: number;
  batches: number;
  batchSize: number;
  seed: number;
  out: string;
  json?: boolean;
  backend?: 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
}

function toInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new Error(`expected a positive integer, got '${value}'`);
  return n;
}

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`mmim: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
