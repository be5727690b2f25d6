import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_LEASE_MS, DEFAULT_PORT } from '@mmim/protocol';
import { secretFlagProblem } from '@mmim/runtime';
import { z } from 'zod';
import { DEFAULT_MAX_WORKERS_PER_TRIAL } from './trials/admission.js';

export const USAGE = `usage: coordinator [--host 127.0.0.1] [--port ${DEFAULT_PORT}] --token-file FILE
                   [--redis URL] [--http-host 127.0.0.1] [--http-port 8080] [--admin-token-file FILE]
                   [--read-token-required] [--http-allowed-hosts NAME[:PORT],...]
                   [--lease-ms ${DEFAULT_LEASE_MS}] [--max-workers-per-trial ${DEFAULT_MAX_WORKERS_PER_TRIAL}]
                   [--tls-cert PEM --tls-key PEM [--tls-ca PEM]]
                   [--artifacts dir:PATH | s3://BUCKET/PREFIX?endpoint=URL | redis]
The join token may come from MMIM_JOIN_TOKEN instead of --token-file (never from argv), the
admin token (dashboard actions, sweep commands) from MMIM_ADMIN_TOKEN, the Redis URL from
MMIM_REDIS_URL (default redis://127.0.0.1:6379; rediss:// for TLS, user:password@ for ACLs),
where checkpoints go from MMIM_ARTIFACTS (default: the store an earlier start set, else Redis).`;

export const DEFAULT_HTTP_PORT = 8080;

const Flags = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.coerce.number().int().min(0).max(65535).default(DEFAULT_PORT),
    'token-file': z.string().min(1).optional(),
    'lease-ms': z.coerce.number().int().min(100).default(DEFAULT_LEASE_MS),
    'tls-cert': z.string().optional(),
    'tls-key': z.string().optional(),
    'tls-ca': z.string().optional(),
    redis: z.string().min(1).optional(),
    artifacts: z.string().min(1).optional(),
    'http-host': z.string().min(1).default('127.0.0.1'),
    'http-port': z.coerce.number().int().min(0).max(65535).default(DEFAULT_HTTP_PORT),
    'admin-token-file': z.string().min(1).optional(),
    'read-token-required': z.boolean().optional(),
    'lease-lock-ms': z.coerce.number().int().min(1000).default(30_000),
    'http-allowed-hosts': z.string().optional(),
    'max-workers-per-trial': z.coerce
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(DEFAULT_MAX_WORKERS_PER_TRIAL),
  })
  .refine((f) => (f['tls-cert'] === undefined) === (f['tls-key'] === undefined), {
    message: '--tls-cert and --tls-key go together',
  })
  .refine((f) => f['tls-ca'] === undefined || f['tls-cert'] !== undefined, {
    message: '--tls-ca (mutual TLS) needs --tls-cert and --tls-key',
  });

export interface CoordinatorConfig {
  host: string;
  port: number;
  joinToken: string;
  leaseMs: number;
  tls?: { certFile: string; keyFile: string; caFile?: string };
  redisUrl: string;
  httpHost: string;
  httpPort: number;
  /** null: no admin token given; dashboard actions and sweep commands are refused. */
  adminToken: string | null;
  readTokenRequired: boolean;
  /** How long a trial's queue lock lives without renewal (a dead coordinator's jobs). */
  queueLockMs: number;
  /** Host names the dashboard answers to besides its bound address (a proxy's hostname). */
  httpAllowedHosts: string[];
  /**
   * Trials asking for more workers than the larger of this and the registered workers are
   * refused (400); `mmim up` passes its worker count.
   */
  maxWorkersPerTrial: number;
  /** Where checkpoints go (an artifact store setting); null: keep the run's published one. */
  artifacts: string | null;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Reads a token file, dropping the trailing newline editors and `echo` add. */
export function readToken(file: string): string {
  return fs.readFileSync(file, 'utf8').trim();
}

/** Parses argv and the environment; throws with a readable message on bad input. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): CoordinatorConfig {
  const secret = secretFlagProblem(argv, {
    '--token': '--token-file FILE or MMIM_JOIN_TOKEN',
    '--admin-token': '--admin-token-file FILE or MMIM_ADMIN_TOKEN',
  });
  if (secret !== null) throw new Error(secret);
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'token-file': { type: 'string' },
      'lease-ms': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      redis: { type: 'string' },
      artifacts: { type: 'string' },
      'http-host': { type: 'string' },
      'http-port': { type: 'string' },
      'admin-token-file': { type: 'string' },
      'read-token-required': { type: 'boolean' },
      'lease-lock-ms': { type: 'string' },
      'http-allowed-hosts': { type: 'string' },
      'max-workers-per-trial': { type: 'string' },
    },
  });
  const parsed = Flags.safeParse(values);
  if (!parsed.success) throw new Error(z.prettifyError(parsed.error));
  const f = parsed.data;
  const tokenFile = f['token-file'];
  const joinToken = tokenFile ? readToken(tokenFile) : (env['MMIM_JOIN_TOKEN'] ?? '').trim();
  if (joinToken === '') {
    throw new Error('no join token: pass --token-file FILE or set MMIM_JOIN_TOKEN');
  }
  const adminFile = f['admin-token-file'];
  const admin = adminFile ? readToken(adminFile) : (env['MMIM_ADMIN_TOKEN'] ?? '').trim();
  const config: CoordinatorConfig = {
    host: f.host,
    port: f.port,
    joinToken,
    leaseMs: f['lease-ms'],
    redisUrl: f.redis ?? env['MMIM_REDIS_URL'] ?? 'redis://127.0.0.1:6379',
    httpHost: f['http-host'],
    httpPort: f['http-port'],
    adminToken: admin === '' ? null : admin,
    readTokenRequired: f['read-token-required'] ?? !LOOPBACK.has(f['http-host']),
    queueLockMs: f['lease-lock-ms'],
    httpAllowedHosts: (f['http-allowed-hosts'] ?? '')
      .split(',')
      .map((h) => h.trim())
      .filter((h) => h !== ''),
    maxWorkersPerTrial: f['max-workers-per-trial'],
    artifacts: f.artifacts ?? (env['MMIM_ARTIFACTS']?.trim() || null),
  };
  if (config.adminToken !== null && config.adminToken === joinToken) {
    throw new Error('the admin token must differ from the join token');
  }
  if (f['tls-cert'] && f['tls-key']) {
    config.tls = { certFile: f['tls-cert'], keyFile: f['tls-key'] };
    if (f['tls-ca']) config.tls.caFile = f['tls-ca'];
  }
  return config;
}
