/**
 * The coordinator process: `node --import tsx apps/coordinator/src/main.ts --port 0 --token-file F
 * [--redis URL] [--http-port 0]`. Prints one JSON line on stdout once it listens:
 * `{"event":"listening","address":"127.0.0.1:PORT","port":PORT,"http":"http://127.0.0.1:HTTP"}`,
 * so scripts and tests can find it; logs go to stderr as JSON (pino), errors with their stack.
 * Only bad flags print text (the message and the usage, exit 2).
 */
import { createLogger } from '@mmim/runtime';
import { RECOMMENDED_TOKEN_LENGTH } from './auth.js';
import { parseConfig, USAGE, type CoordinatorConfig } from './options.js';
import { runCoordinator } from './run.js';

async function main(): Promise<void> {
  const log = createLogger('coordinator');
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let config: CoordinatorConfig;
  try {
    config = parseConfig(argv, process.env);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (config.joinToken.length < RECOMMENDED_TOKEN_LENGTH) {
    log.warn(
      { length: config.joinToken.length },
      `join token is shorter than ${RECOMMENDED_TOKEN_LENGTH} characters`,
    );
  }
  await runCoordinator(config, log);
}

main().catch((err: unknown) => {
  createLogger('coordinator').error({ err }, 'coordinator failed');
  process.exit(1);
});
