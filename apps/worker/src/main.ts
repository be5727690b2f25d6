/**
 * The worker process:
 * `node --import tsx apps/worker/src/main.ts --coordinator HOST:PORT --token-file F --redis URL`
 * (or the token in MMIM_JOIN_TOKEN). Joins the coordinator, trains the trials it is assigned
 * and stays joined; exits 2 on bad flags (the message and the usage as text), 3 when the
 * coordinator refuses its token, 1 on any other failure, 0 on SIGTERM/SIGINT (and --help).
 * Past its flags, everything it prints is JSON log lines on stderr, errors with their stack.
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
    const refused = err instanceof FatalJoinError;
    createLogger('worker').error({ err }, refused ? 'join refused' : 'worker failed');
    process.exit(refused ? 3 : 1);
  },
);
