/**
 * A throwaway redis-server for tests: Debian's binary on a free loopback port, in a temp dir,
 * never the shared server on 6379. With `appendonly` it persists to an AOF (fsync always) so a
 * restart keeps everything written before it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort, launch, terminate } from './redis-process.js';

export interface RedisServerOptions {
  appendonly?: boolean;
  /** redis-server binary; default `redis-server` on PATH. */
  binary?: string;
}

export interface RedisServerHandle {
  readonly port: number;
  readonly dir: string;
  /** A new client on the server (the caller closes it). */
  client(): Redis;
  /** Stop (SIGTERM: Redis flushes the AOF) and start again on the same port and dir. */
  restart(): Promise<void>;
  /** Stop the server and remove its dir. */
  stop(): Promise<void>;
}

export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const binary = opts.binary ?? 'redis-server';
  const aof = opts.appendonly ?? false;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-redis-'));
  const port = await freePort();
  let child = await launch(binary, port, dir, aof);
  return {
    port,
    dir,
    client: () => new Redis({ host: '127.0.0.1', port, lazyConnect: false }),
    restart: async () => {
      await terminate(child);
      child = await launch(binary, port, dir, aof);
    },
    stop: async () => {
      await terminate(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
