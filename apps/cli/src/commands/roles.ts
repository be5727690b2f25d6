/**
 * `mmim coordinator ...` and `mmim worker ...`: one cluster role each, with the same flags as
 * the apps' own entry points (they parse them; the CLI passes them through). Both refuse a
 * token on the command line (`--token`), pointing to the file flag and the variable instead.
 */
import { parseConfig, runCoordinator, USAGE } from '@mmim/coordinator';
import { createLogger } from '@mmim/runtime';
import { EXIT, exitCodeOf } from '../exit-codes.js';
import { UsageError } from './train-data.js';

export async function runCoordinatorCommand(args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let config;
  try {
    config = parseConfig(args, process.env);
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
  const log = createLogger('coordinator');
  try {
    await runCoordinator(config, log);
  } catch (err) {
    log.error({ err }, 'coordinator failed');
    process.exit(EXIT.failed);
  }
  // Runs until SIGINT/SIGTERM (runCoordinator exits the process then).
  await new Promise<never>(() => undefined);
}

/**
 * A bad flag is a usage error (exit 2, the usage text); past that the process is a worker, whose
 * output is JSON log lines only: a refused token is logged with its error and exits 3 (refused),
 * as the worker's own main.ts does.
 */
export async function runWorkerCommand(args: string[]): Promise<void> {
  const { runWorkerMain } = await import('@mmim/worker');
  try {
    await runWorkerMain(args, process.env);
  } catch (err) {
    const code = exitCodeOf(err);
    if (code === EXIT.usage) throw err;
    const refused = code === EXIT.refused;
    createLogger('worker').error({ err }, refused ? 'join refused' : 'worker failed');
    process.exit(code);
  }
}
