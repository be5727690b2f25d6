/**
 * A throwaway redis-server for tests: Debian's binary on a free loopback port, in a temp dir,
 * never the shared server on 6379. With `appendonly` it persists to an AOF (fsync always) so a
 * restart keeps everything written before it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';

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

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function launch(binary: string, port: number, dir: string, aof: boolean): Promise<ChildProcess> {
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    aof ? 'yes' : 'no',
    '--appendfsync',
    'always',
    '--daemonize',
    'no',
    '--logfile',
    '',
  ];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server did not start on port ${port}:\n${log}`));
    }, 15_000);
    const onData = (d: Buffer): void => {
      log += d.toString();
      if (log.includes('Ready to accept connections')) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume(); // keep draining so the pipe never fills
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${log}`));
    });
  });
}

function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
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
