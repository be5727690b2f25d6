/**
 * `mmim coordinator ...` and `mmim worker ...`: one cluster role each, with the same flags as
 * the apps' own entry points (they parse them; the CLI passes them through).
 */
import { parseConfig, runCoordinator, USAGE } from '@mmim/coordinator';
import { createLogger } from '@mmim/runtime';
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
  await runCoordinator(config, createLogger('coordinator'));
  // Runs until SIGINT/SIGTERM (runCoordinator exits the process then).
  await new Promise<never>(() => undefined);
}

/**
 * `--token T` is accepted for convenience but moved into the environment before the worker
 * parses its flags; it is still visible in `ps` for this process, so the warning says to use
 * --token-file or MMIM_JOIN_TOKEN instead.
 */
export function takeTokenFlag(args: string[]): { args: string[]; token: string | null } {
  const rest: string[] = [];
  let token: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--token') {
      token = args[i + 1] ?? '';
      i++;
    } else if (a.startsWith('--token=')) token = a.slice('--token='.length);
    else rest.push(a);
  }
  return { args: rest, token };
}

export async function runWorkerCommand(args: string[]): Promise<void> {
  const { runWorkerMain } = await import('@mmim/worker');
  const taken = takeTokenFlag(args);
  const env = { ...process.env };
  if (taken.token !== null) {
    if (taken.token === '') throw new UsageError('--token needs a value');
    process.stderr.write(
      'mmim worker: --token is visible to other users in `ps`; prefer --token-file or MMIM_JOIN_TOKEN\n',
    );
    env['MMIM_JOIN_TOKEN'] = taken.token;
  }
  await runWorkerMain(taken.args, env);
}
