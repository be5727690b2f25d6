import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { DEFAULT_PORT } from '@mmim/protocol';
import { BACKEND_CHOICES, secretFlagProblem, type BackendChoice } from '@mmim/runtime';
import { z } from 'zod';

export const USAGE = `usage: worker --coordinator HOST:PORT [--token-file FILE] [--name NAME]
              [--redis URL] [--exchange-redis URL] [--run-dir DIR]
              [--backend auto|tensorflow-gpu|tensorflow|webgpu|wasm|cpu]
              [--tls-ca PEM [--tls-cert PEM --tls-key PEM]]
The join token comes from --token-file or MMIM_JOIN_TOKEN; it is never accepted on the
command line, where other users could read it in the process list.
--redis (or MMIM_REDIS_URL): the Redis holding rank-group exchanges and trial checkpoints
(needed for trials of more than one rank). --exchange-redis (or MMIM_EXCHANGE_REDIS_URL): a
second Redis for the per-step exchanges only (no persistence needed: they are recomputable),
so that the first one's AOF writes only what must survive (docs/distributed.md). --run-dir: temp
files (default: the OS temp dir).
--backend (or MMIM_BACKEND): the TF.js backend trials train on (default auto).`;

const Flags = z
  .object({
    coordinator: z
      .string()
      .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d+$/, 'expected HOST:PORT')
      .default(`127.0.0.1:${DEFAULT_PORT}`),
    'token-file': z.string().min(1).optional(),
    name: z.string().min(1).optional(),
    'tls-ca': z.string().optional(),
    'tls-cert': z.string().optional(),
    'tls-key': z.string().optional(),
    redis: z
      .string()
      .regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL')
      .optional(),
    'exchange-redis': z
      .string()
      .regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL')
      .optional(),
    'run-dir': z.string().min(1).optional(),
    backend: z.enum(BACKEND_CHOICES).optional(),
  })
  .refine((f) => (f['tls-cert'] === undefined) === (f['tls-key'] === undefined), {
    message: '--tls-cert and --tls-key go together',
  })
  .refine((f) => f['tls-cert'] === undefined || f['tls-ca'] !== undefined, {
    message: 'a client certificate (mutual TLS) needs --tls-ca to verify the coordinator',
  })
  .refine((f) => f['exchange-redis'] === undefined || f.redis !== undefined, {
    message: '--exchange-redis needs --redis too (checkpoints stay on --redis)',
  });

export interface WorkerConfig {
  coordinator: string;
  joinToken: string;
  workerName: string;
  credentials: grpc.ChannelCredentials;
  /** Redis for rank groups and checkpoints; null when none was given. */
  redisUrl: string | null;
  /** Redis for the per-step rank-group exchanges, when not `redisUrl`. */
  exchangeRedisUrl: string | null;
  /** Temp files of trials go under here. */
  runDir: string;
  backend: BackendChoice;
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): WorkerConfig {
  const secret = secretFlagProblem(argv, { '--token': '--token-file FILE or MMIM_JOIN_TOKEN' });
  if (secret !== null) throw new Error(secret);
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      coordinator: { type: 'string' },
      'token-file': { type: 'string' },
      name: { type: 'string' },
      'tls-ca': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      redis: { type: 'string' },
      'exchange-redis': { type: 'string' },
      'run-dir': { type: 'string' },
      backend: { type: 'string' },
    },
  });
  const parsed = Flags.safeParse({
    ...values,
    redis: values.redis ?? nonEmpty(env['MMIM_REDIS_URL']),
    'exchange-redis': values['exchange-redis'] ?? nonEmpty(env['MMIM_EXCHANGE_REDIS_URL']),
    backend: values.backend ?? nonEmpty(env['MMIM_BACKEND']),
  });
  if (!parsed.success) throw new Error(z.prettifyError(parsed.error));
  const f = parsed.data;
  const tokenFile = f['token-file'];
  const joinToken = tokenFile
    ? fs.readFileSync(tokenFile, 'utf8').trim()
    : (env['MMIM_JOIN_TOKEN'] ?? '').trim();
  if (joinToken === '')
    throw new Error('no join token: pass --token-file FILE or set MMIM_JOIN_TOKEN');
  const credentials = f['tls-ca']
    ? grpc.credentials.createSsl(
        fs.readFileSync(f['tls-ca']),
        f['tls-key'] ? fs.readFileSync(f['tls-key']) : null,
        f['tls-cert'] ? fs.readFileSync(f['tls-cert']) : null,
      )
    : grpc.credentials.createInsecure();
  return {
    coordinator: f.coordinator,
    joinToken,
    workerName: f.name ?? `${os.hostname()}-${process.pid}`,
    credentials,
    redisUrl: f.redis ?? null,
    exchangeRedisUrl: f['exchange-redis'] ?? null,
    runDir: f['run-dir'] ?? path.join(os.tmpdir(), 'mmim-worker'),
    backend: f.backend ?? 'auto',
  };
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}
