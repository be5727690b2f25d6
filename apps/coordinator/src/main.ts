/**
 * The coordinator process: `node --import tsx apps/coordinator/src/main.ts --port 0 --token-file F`.
 * Prints one JSON line on stdout once it listens, `{"event":"listening","address":"127.0.0.1:PORT",
 * "port":PORT}`, so scripts and tests can find it; logs go to stderr as JSON (pino).
 */
import { createLogger } from '@mmim/runtime';
import { RECOMMENDED_TOKEN_LENGTH } from './auth.js';
import { Coordinator } from './coordinator.js';
import { parseConfig, USAGE } from './options.js';

async function main(): Promise<void> {
  const log = createLogger('coordinator');
  let config;
  try {
    config = parseConfig(process.argv.slice(2), process.env);
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
  const coordinator = await Coordinator.start({ ...config, log });
  log.info(
    { address: coordinator.address, leaseMs: config.leaseMs, tls: config.tls !== undefined },
    'coordinator listening',
  );
  process.stdout.write(
    `${JSON.stringify({ event: 'listening', address: coordinator.address, port: coordinator.port })}\n`,
  );

  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down');
    void coordinator.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(
    `coordinator failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
