/**
 * The worker process:
 * `node --import tsx apps/worker/src/main.ts --coordinator HOST:PORT --token-file F`
 * (or the token in MMIM_JOIN_TOKEN). Joins the coordinator and stays joined; exits 3 when the
 * coordinator refuses its token, 0 on SIGTERM/SIGINT. Logs are JSON lines on stderr.
 */
import fs from 'node:fs';
import os from 'node:os';
import { createLogger, initBackend } from '@mmim/runtime';
import { FatalJoinError, WorkerAgent } from './agent.js';
import { parseConfig, USAGE } from './options.js';

function version(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? '0.0.0';
}

async function main(): Promise<void> {
  const log = createLogger('worker');
  let config;
  try {
    config = parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  // The backend decides what the worker offers; MMIM_BACKEND forces one (see @mmim/runtime).
  const backend = await initBackend({ logger: log });
  const agent = new WorkerAgent({
    coordinator: config.coordinator,
    joinToken: config.joinToken,
    credentials: config.credentials,
    capabilities: {
      backend: backend.name,
      device: backend.device,
      memoryBytes: os.totalmem(),
      version: version(),
      workerName: config.workerName,
    },
    log,
  });
  const shutdown = (signal: string): void => {
    log.info({ signal }, 'shutting down');
    agent.stop();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  log.info({ coordinator: config.coordinator, workerName: config.workerName }, 'joining');
  try {
    await agent.run();
  } catch (err) {
    if (err instanceof FatalJoinError) {
      log.error({ code: err.code, err: err.message }, 'join refused');
      process.exit(3);
    }
    throw err;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(
    `worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
