/**
 * The worker process:
 * `node --import tsx apps/worker/src/main.ts --coordinator HOST:PORT --token-file F --redis URL`
 * (or the token in MMIM_JOIN_TOKEN). Joins the coordinator, trains the trials it is assigned
 * and stays joined; exits 2 on bad flags, 3 when the coordinator refuses its token, 0 on
 * SIGTERM/SIGINT. Logs are JSON lines on stderr.
 */
import { createLogger } from '@mmim/runtime';
import { FatalJoinError, WorkerUsageError, runWorkerMain } from './index.js';

runWorkerMain(process.argv.slice(2), process.env).then(
  () => process.exit(0),
  (err: unknown) => {
    if (err instanceof WorkerUsageError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    if (err instanceof FatalJoinError) {
      createLogger('worker').error({ code: err.code, err: err.message }, 'join refused');
      process.exit(3);
    }
    process.stderr.write(
      `worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
