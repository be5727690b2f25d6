/**
 * The images' commands as plain processes (no Docker engine here): the entry point starts the
 * coordinator and a CPU worker exactly as the containers do, with secrets in files and the
 * Redis URL in the environment (the worker's exchange Redis URL from its file, as compose and
 * Kubernetes mount it); the images' health checks pass against them, and the worker shows up at
 * the coordinator.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startRedisServer, type RedisServerHandle } from '@mmim/param-server/testing';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

async function until(
  what: string,
  ms: number,
  probe: () => boolean | Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('the images commands as plain processes', { timeout: 300_000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-deploy-'));
  const joinFile = path.join(dir, 'join-token');
  const adminFile = path.join(dir, 'admin-token');
  fs.writeFileSync(joinFile, 'deploy-join-token-0123456789abcdef\n', { mode: 0o600 });
  fs.writeFileSync(adminFile, 'deploy-admin-token-0123456789abcdef\n', { mode: 0o600 });
  let redis: RedisServerHandle;
  let exchangeRedis: RedisServerHandle;
  const exchangeUrlFile = path.join(dir, 'exchange-redis-url');
  let grpcPort = 0;
  let httpPort = 0;
  const children: ChildProcess[] = [];
  let env: NodeJS.ProcessEnv = {};

  const entrypoint = (role: string, extra: string[] = []): ChildProcess => {
    const child = spawn('sh', ['deploy/docker/entrypoint.sh', role, ...extra], {
      env,
      stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, `${role}.log`), 'a')],
    });
    children.push(child);
    return child;
  };

  before(async () => {
    redis = await startRedisServer();
    exchangeRedis = await startRedisServer();
    fs.writeFileSync(exchangeUrlFile, `redis://127.0.0.1:${exchangeRedis.port}`, { mode: 0o600 });
    grpcPort = await freePort();
    httpPort = await freePort();
    env = {
      ...process.env,
      MMIM_CLI: path.resolve('apps/cli/bin/mmim.js'),
      MMIM_JOIN_TOKEN_FILE: joinFile,
      MMIM_ADMIN_TOKEN_FILE: adminFile,
      MMIM_REDIS_URL: `redis://127.0.0.1:${redis.port}`,
      MMIM_EXCHANGE_REDIS_URL_FILE: exchangeUrlFile,
      MMIM_GRPC_PORT: String(grpcPort),
      MMIM_HTTP_PORT: String(httpPort),
      MMIM_COORDINATOR: `127.0.0.1:${grpcPort}`,
      MMIM_WORKER_NAME: 'deploy-worker',
      MMIM_BACKEND: 'wasm',
      MMIM_LOG_LEVEL: 'info',
      MMIM_LIVENESS_FILE: path.join(dir, 'worker-alive'),
    };
  });
  after(async () => {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(
      children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once('exit', r)))),
    );
    await redis?.stop();
    await exchangeRedis?.stop();
  });

  it('starts the coordinator, and its gRPC and HTTP health checks pass', async () => {
    // Loopback instead of the image's 0.0.0.0: later flags win.
    entrypoint('coordinator', ['--host', '127.0.0.1', '--http-host', '127.0.0.1']);
    const health = (): number =>
      spawnSync(process.execPath, ['deploy/healthcheck/grpc-health.mjs', `127.0.0.1:${grpcPort}`], {
        encoding: 'utf8',
      }).status ?? -1;
    await until('the gRPC health check', 180_000, () => health() === 0);
    const registry = spawnSync(
      process.execPath,
      [
        'deploy/healthcheck/grpc-health.mjs',
        `127.0.0.1:${grpcPort}`,
        '--service',
        'mmim.v1.WorkerRegistry',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(registry.status, 0, registry.stderr);
    const res = await fetch(`http://127.0.0.1:${httpPort}/api/health`);
    assert.equal(res.status, 200);
  });

  it('starts a CPU worker that joins the coordinator and passes its health check', async () => {
    const worker = entrypoint('worker');
    await until('the worker at the coordinator', 180_000, async () => {
      const r = await fetch(`http://127.0.0.1:${httpPort}/api/workers`);
      const { workers } = (await r.json()) as { workers: { name: string; state: string }[] };
      return workers.some((w) => w.name === 'deploy-worker' && w.state === 'idle');
    });
    const check = spawnSync(process.execPath, ['deploy/healthcheck/worker-health.mjs'], {
      encoding: 'utf8',
      env,
    });
    assert.equal(check.status, 0, check.stderr);
    // The entry point exec'd the worker (same pid) with the exchange Redis URL from its file in
    // the environment, and neither URL on its command line.
    const environ = fs.readFileSync(`/proc/${worker.pid}/environ`, 'utf8').split('\0');
    assert.ok(
      environ.includes(`MMIM_EXCHANGE_REDIS_URL=redis://127.0.0.1:${exchangeRedis.port}`),
      'MMIM_EXCHANGE_REDIS_URL exported to the worker',
    );
    const cmdline = fs.readFileSync(`/proc/${worker.pid}/cmdline`, 'utf8').split('\0');
    assert.ok(cmdline.includes('worker'), cmdline.join(' '));
    assert.ok(!cmdline.some((a) => a.includes('redis://')), cmdline.join(' '));
    // The worker keeps its liveness file fresh; a stale one fails the check.
    const alive = fs.statSync(path.join(dir, 'worker-alive'));
    assert.ok(Date.now() - alive.mtimeMs < 30_000, 'liveness file touched recently');
    const stale = path.join(dir, 'stale-alive');
    fs.writeFileSync(stale, '1\n');
    const old = new Date(Date.now() - 600_000);
    fs.utimesSync(stale, old, old);
    const staleCheck = spawnSync(process.execPath, ['deploy/healthcheck/worker-health.mjs'], {
      encoding: 'utf8',
      env: { ...env, MMIM_LIVENESS_FILE: stale },
    });
    assert.equal(staleCheck.status, 1);
    assert.match(staleCheck.stderr, /last touched \d+ s ago/);
  });

  it('fails the gRPC health check once the coordinator is gone', async () => {
    const coordinator = children[0];
    coordinator?.kill('SIGTERM');
    await new Promise((r) => coordinator?.once('exit', r));
    const r = spawnSync(
      process.execPath,
      ['deploy/healthcheck/grpc-health.mjs', `127.0.0.1:${grpcPort}`],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 1);
  });
});
