/**
 * A read-only dashboard server on its own: the same HTTP server the coordinator runs, over an
 * existing Redis, without the gRPC side or a sweep controller (the action endpoints answer
 * 409). For bench/dashboard and for looking at a finished run's records.
 *
 *   node --import tsx apps/coordinator/src/http/serve.ts --redis-url redis://127.0.0.1:6379 \
 *     [--host 127.0.0.1] [--port 0] [--prefix mmim:] [--static-dir DIR]
 *
 * Prints one JSON line on stdout once it listens: `{"event":"listening","url":"http://..."}`.
 * The Redis URL is never logged (it may hold a password).
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  CheckpointStore,
  ExperimentStore,
  type SweepRecord,
  type TrialRecord,
} from '@mmim/experiments';
import { createLogger } from '@mmim/runtime';
import { Redis } from 'ioredis';
import type { SweepControl, SweepDeletion } from './control.js';
import { SweepActionError } from './errors.js';
import { CoordinatorMetrics } from './metrics.js';
import { createHttpServer } from './server.js';

const readOnly = (id: string): Promise<never> =>
  Promise.reject(
    new SweepActionError(
      'conflict',
      id,
      'this dashboard server is read-only: it has no sweep controller',
    ),
  );

const READ_ONLY_CONTROL: SweepControl = {
  pause: readOnly,
  resume: readOnly,
  cancel: readOnly,
  createSweep: (): Promise<SweepRecord> => readOnly(''),
  createTrial: (): Promise<TrialRecord> => readOnly(''),
  cancelTrial: (id): Promise<TrialRecord> => readOnly(id),
  deleteSweep: (id): Promise<SweepDeletion> => readOnly(id),
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'redis-url': { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      prefix: { type: 'string', default: 'mmim:' },
      'static-dir': { type: 'string' },
    },
  });
  const redisUrl = values['redis-url'] ?? process.env['MMIM_REDIS_URL'];
  if (redisUrl === undefined) throw new Error('--redis-url (or MMIM_REDIS_URL) is required');
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port must be an integer 0-65535, got ${JSON.stringify(values.port)}`);
  }
  if (!['127.0.0.1', '::1', 'localhost'].includes(values.host)) {
    throw new Error(
      `--host ${values.host}: this read-only server has open reads, so it binds to loopback only`,
    );
  }
  const log = createLogger('dashboard');
  const redis = new Redis(redisUrl, { lazyConnect: true });
  redis.on('error', (err: Error) => log.warn({ err }, 'redis connection error'));
  await redis.connect();
  const http = createHttpServer({
    store: new ExperimentStore(redis, values.prefix),
    checkpoints: new CheckpointStore(redis, values.prefix),
    control: READ_ONLY_CONTROL,
    // Nobody knows this token, and reads are open: bind it to loopback only.
    adminToken: randomBytes(32).toString('hex'),
    readTokenRequired: false,
    staticDir: values['static-dir'] ?? null,
    metrics: new CoordinatorMetrics(),
    log,
  });
  const { url } = await http.listen(values.host, port);
  process.stdout.write(`${JSON.stringify({ event: 'listening', url })}\n`);
  const shutdown = (): void => {
    void http.close().finally(() => {
      redis.disconnect();
      process.exit(0);
    });
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `dashboard server failed: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
