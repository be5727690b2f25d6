/**
 * The scripts the images and manifests run, as real processes: the health checks against a
 * real gRPC health service (plain and TLS) and a real HTTP server, the entry point's command
 * lines, make-secrets.sh, and redis.conf and exchange-redis.conf loaded by a real redis-server.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';

const REPO = path.resolve(import.meta.dirname, '..', '..');
const GRPC_HEALTH = path.join(REPO, 'deploy', 'healthcheck', 'grpc-health.mjs');
const WORKER_HEALTH = path.join(REPO, 'deploy', 'healthcheck', 'worker-health.mjs');
const ENTRYPOINT = path.join(REPO, 'deploy', 'docker', 'entrypoint.sh');
const MAKE_SECRETS = path.join(REPO, 'deploy', 'make-secrets.sh');
const REDIS_CONF = path.join(REPO, 'deploy', 'k8s', 'base', 'redis.conf');
const EXCHANGE_REDIS_CONF = path.join(REPO, 'deploy', 'k8s', 'base', 'exchange-redis.conf');

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command asynchronously (the servers under test live in this process). */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

function tmpDir(t: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `mmim-${t}-`));
}

async function startHealthServer(
  credentials: grpc.ServerCredentials,
): Promise<{ server: grpc.Server; health: HealthImplementation; port: number }> {
  const health = new HealthImplementation({
    '': 'SERVING',
    'mmim.v1.WorkerRegistry': 'NOT_SERVING',
  });
  const server = new grpc.Server();
  health.addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, health, port };
}

describe('deploy/healthcheck/grpc-health.mjs', () => {
  let server: grpc.Server;
  let health: HealthImplementation;
  let port: number;
  before(async () => {
    ({ server, health, port } = await startHealthServer(grpc.ServerCredentials.createInsecure()));
  });
  after(() => server.forceShutdown());

  it('exits 0 for SERVING and 1 for NOT_SERVING, per service', async () => {
    const ok = await run('node', [GRPC_HEALTH, `127.0.0.1:${port}`]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /healthy: 127\.0\.0\.1:\d+ service '' is SERVING/);
    const notServing = await run('node', [
      GRPC_HEALTH,
      `127.0.0.1:${port}`,
      '--service',
      'mmim.v1.WorkerRegistry',
    ]);
    assert.equal(notServing.status, 1);
    assert.match(notServing.stderr, /is NOT_SERVING/);
    health.setStatus('mmim.v1.WorkerRegistry', 'SERVING');
    const serving = await run('node', [
      GRPC_HEALTH,
      `127.0.0.1:${port}`,
      '--service',
      'mmim.v1.WorkerRegistry',
    ]);
    assert.equal(serving.status, 0, serving.stderr);
    const unknown = await run('node', [GRPC_HEALTH, `127.0.0.1:${port}`, '--service', 'nope']);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /NOT_FOUND/);
  });

  it('takes the port from MMIM_GRPC_PORT, fails fast with nothing listening, 2 on bad usage', async () => {
    const byEnv = await run('node', [GRPC_HEALTH], { MMIM_GRPC_PORT: String(port) });
    assert.equal(byEnv.status, 0, byEnv.stderr);
    const closed = await startHealthServer(grpc.ServerCredentials.createInsecure());
    closed.server.forceShutdown();
    const t0 = Date.now();
    const down = await run('node', [GRPC_HEALTH, `127.0.0.1:${closed.port}`], {
      MMIM_HEALTH_TIMEOUT_MS: '2000',
    });
    assert.equal(down.status, 1);
    assert.match(down.stderr, /unhealthy: 14 UNAVAILABLE/);
    assert.ok(Date.now() - t0 < 10_000);
    const bad = await run('node', [GRPC_HEALTH, 'no-port']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /expected HOST:PORT, got 'no-port'/);
  });

  it('checks over TLS with MMIM_TLS_CA and MMIM_TLS_SERVER_NAME', async () => {
    const dir = tmpDir('tls');
    const ssl = (...args: string[]): void => {
      execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    };
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    ssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '1',
      '-subj',
      '/CN=mmim-test-ca',
    );
    ssl(
      'req',
      ...ec,
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=mmim-coordinator',
    );
    fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:mmim-coordinator\n');
    ssl(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.pem',
      '-days',
      '1',
      '-extfile',
      'ext.cnf',
    );
    const read = (f: string): Buffer => fs.readFileSync(path.join(dir, f));
    const tls = await startHealthServer(
      grpc.ServerCredentials.createSsl(null, [
        { private_key: read('server.key'), cert_chain: read('server.pem') },
      ]),
    );
    try {
      const env = {
        MMIM_TLS_CA: path.join(dir, 'ca.pem'),
        MMIM_TLS_SERVER_NAME: 'mmim-coordinator',
      };
      const ok = await run('node', [GRPC_HEALTH, `127.0.0.1:${tls.port}`], env);
      assert.equal(ok.status, 0, ok.stderr);
      const plain = await run('node', [GRPC_HEALTH, `127.0.0.1:${tls.port}`], {
        MMIM_HEALTH_TIMEOUT_MS: '2000',
      });
      assert.equal(plain.status, 1, 'a plaintext check against a TLS server fails');
      const wrongName = await run('node', [GRPC_HEALTH, `127.0.0.1:${tls.port}`], {
        ...env,
        MMIM_TLS_SERVER_NAME: 'someone-else',
        MMIM_HEALTH_TIMEOUT_MS: '2000',
      });
      assert.equal(wrongName.status, 1, 'the certificate name is checked');
    } finally {
      tls.server.forceShutdown();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('checks GET /api/health with --http', async () => {
    let answer: { status: number; body: string } = {
      status: 200,
      body: '{"ok":true,"version":"0.1.0"}',
    };
    const server = http.createServer((_req, res) => {
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/health`;
    try {
      assert.equal((await run('node', [GRPC_HEALTH, '--http', url])).status, 0);
      answer = { status: 503, body: '{"ok":false}' };
      const down = await run('node', [GRPC_HEALTH, '--http', url]);
      assert.equal(down.status, 1);
      assert.match(down.stderr, /HTTP 503/);
      answer = { status: 200, body: '{"ok":false}' };
      assert.equal((await run('node', [GRPC_HEALTH, '--http', url])).status, 1);
    } finally {
      server.close();
    }
  });
});

describe('deploy/healthcheck/worker-health.mjs', () => {
  let dir: string;
  let worker: ChildProcess;
  before(async () => {
    dir = tmpDir('worker');
    // Stands in for `node /app/apps/cli/bin/mmim.js worker ...`: same command-line shape.
    const cli = path.join(dir, 'fake-mmim.js');
    fs.writeFileSync(cli, 'setInterval(() => {}, 1000);\n');
    worker = spawn('node', [cli, 'worker', '--coordinator', 'x:1'], { stdio: 'ignore' });
    await new Promise((resolve) => setTimeout(resolve, 300));
  });
  after(() => {
    worker.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is healthy while a worker process runs, unhealthy without one', async () => {
    const ok = await run('node', [WORKER_HEALTH], { MMIM_CLI: '/app/fake-mmim.js' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`healthy: worker pid ${worker.pid}`));
    const none = await run('node', [WORKER_HEALTH], { MMIM_CLI: 'no-such-cli.js' });
    assert.equal(none.status, 1);
    assert.match(none.stderr, /no `mmim worker` process/);
  });

  it('judges by the liveness file when there is one: fresh is healthy, stale is not', async () => {
    const file = path.join(dir, 'alive');
    const env = {
      MMIM_CLI: 'fake-mmim.js',
      MMIM_LIVENESS_FILE: file,
      MMIM_LIVENESS_MAX_AGE_S: '30',
    };
    assert.equal((await run('node', [WORKER_HEALTH], env)).status, 0, 'absent file: process check');
    fs.writeFileSync(file, '');
    assert.equal((await run('node', [WORKER_HEALTH], env)).status, 0);
    const old = new Date(Date.now() - 120_000);
    fs.utimesSync(file, old, old);
    const stale = await run('node', [WORKER_HEALTH], env);
    assert.equal(stale.status, 1);
    assert.match(stale.stderr, /last touched 1[12]\d s ago \(> 30 s\)/);
  });
});

describe('deploy/docker/entrypoint.sh', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  before(() => {
    dir = tmpDir('entry');
    // A CLI that prints the arguments it got and the Redis URLs it sees.
    fs.writeFileSync(
      path.join(dir, 'cli.mjs'),
      'console.log(JSON.stringify({ argv: process.argv.slice(2), redis: process.env.MMIM_REDIS_URL ?? null, exchange: process.env.MMIM_EXCHANGE_REDIS_URL ?? null }));\n',
    );
    fs.writeFileSync(path.join(dir, 'join-token'), 'j'.repeat(64));
    fs.writeFileSync(path.join(dir, 'admin-token'), 'a'.repeat(64));
    fs.writeFileSync(path.join(dir, 'redis-url'), 'redis://:pw@redis:6379/0');
    // As make-secrets.sh writes it (no newline); a trailing one, as an editor leaves, is dropped.
    fs.writeFileSync(path.join(dir, 'exchange-redis-url'), 'redis://:xpw@exchange-redis:6379/0\n');
    env = {
      MMIM_CLI: path.join(dir, 'cli.mjs'),
      MMIM_JOIN_TOKEN_FILE: path.join(dir, 'join-token'),
      MMIM_ADMIN_TOKEN_FILE: path.join(dir, 'admin-token'),
      MMIM_REDIS_URL_FILE: path.join(dir, 'redis-url'),
      MMIM_EXCHANGE_REDIS_URL_FILE: path.join(dir, 'exchange-redis-url'),
      // Not inherited from whoever runs the tests.
      MMIM_REDIS_URL: '',
      MMIM_EXCHANGE_REDIS_URL: '',
    };
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  interface Seen {
    argv: string[];
    redis: string | null;
    exchange: string | null;
  }
  const entry = async (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Seen> => {
    const r = await run('sh', [ENTRYPOINT, ...args], { ...env, ...extra });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Seen;
  };

  it('starts the coordinator on all interfaces with the token files, the Redis URL from its file', async () => {
    const out = await entry(['coordinator', '--lease-ms', '5000']);
    assert.deepEqual(out.argv, [
      'coordinator',
      '--host',
      '0.0.0.0',
      '--port',
      '50051',
      '--http-host',
      '0.0.0.0',
      '--http-port',
      '8080',
      '--token-file',
      env['MMIM_JOIN_TOKEN_FILE'],
      '--admin-token-file',
      env['MMIM_ADMIN_TOKEN_FILE'],
      '--lease-ms',
      '5000',
    ]);
    assert.equal(out.redis, 'redis://:pw@redis:6379/0');
    assert.ok(
      !out.argv.some((a) => a.includes('redis://')),
      'the Redis password stays out of argv',
    );
  });

  it('starts a worker named after the host (or MMIM_WORKER_NAME), with TLS flags when configured', async () => {
    const plain = await entry(['worker']);
    assert.deepEqual(plain.argv, [
      'worker',
      '--coordinator',
      'coordinator:50051',
      '--name',
      os.hostname(),
      '--token-file',
      env['MMIM_JOIN_TOKEN_FILE'],
    ]);
    const tls = await entry(['worker', '--extra', 'a b'], {
      MMIM_COORDINATOR: 'mmim-coordinator:50051',
      MMIM_WORKER_NAME: 'gpu-7',
      MMIM_TLS_CA: '/tls/ca dir/ca.pem',
      MMIM_TLS_CERT: '/tls/client.pem',
      MMIM_TLS_KEY: '/tls/client.key',
      MMIM_REDIS_URL: 'redis://given',
    });
    assert.deepEqual(tls.argv, [
      'worker',
      '--coordinator',
      'mmim-coordinator:50051',
      '--name',
      'gpu-7',
      '--token-file',
      env['MMIM_JOIN_TOKEN_FILE'],
      '--tls-cert',
      '/tls/client.pem',
      '--tls-key',
      '/tls/client.key',
      '--tls-ca',
      '/tls/ca dir/ca.pem',
      '--extra',
      'a b',
    ]);
    assert.equal(tls.redis, 'redis://given', 'an explicit MMIM_REDIS_URL wins over the file');
  });

  it('exports the exchange Redis URL from MMIM_EXCHANGE_REDIS_URL_FILE, never on argv', async () => {
    const worker = await entry(['worker']);
    assert.equal(worker.exchange, 'redis://:xpw@exchange-redis:6379/0');
    assert.equal(worker.redis, 'redis://:pw@redis:6379/0', 'each URL from its own file');
    assert.ok(
      !worker.argv.some((a) => a.includes('redis://') || a.includes('exchange-redis')),
      'no --exchange-redis on argv: the URL carries the password',
    );
    const given = await entry(['worker'], { MMIM_EXCHANGE_REDIS_URL: 'redis://given-exchange' });
    assert.equal(given.exchange, 'redis://given-exchange', 'an explicit value wins over the file');
    const noFile = await entry(['worker'], { MMIM_EXCHANGE_REDIS_URL_FILE: '' });
    assert.equal(noFile.exchange, '', 'without a file nothing is set (one Redis for all)');
    // An empty file: an empty value, which the worker reads as unset (one Redis for all).
    fs.writeFileSync(path.join(dir, 'empty-url'), '');
    const empty = await entry(['worker'], {
      MMIM_EXCHANGE_REDIS_URL_FILE: path.join(dir, 'empty-url'),
    });
    assert.equal(empty.exchange, '');
    const missing = await run('sh', [ENTRYPOINT, 'worker'], {
      ...env,
      MMIM_EXCHANGE_REDIS_URL_FILE: path.join(dir, 'no-exchange-url'),
    });
    assert.notEqual(missing.status, 0, 'a configured but missing file stops the start');
    assert.match(missing.stderr, /no-exchange-url/);
    assert.equal(missing.stdout, '', 'the CLI never ran');
  });

  it('refuses to start without a join token, and runs other commands as given', async () => {
    const none = await run('sh', [ENTRYPOINT, 'worker'], {
      ...env,
      MMIM_JOIN_TOKEN_FILE: path.join(dir, 'missing'),
    });
    assert.equal(none.status, 2);
    assert.match(none.stderr, /no join token: mount it at .*missing/);
    const other = await run(
      'sh',
      [
        ENTRYPOINT,
        'node',
        '-e',
        'console.log(process.env.MMIM_REDIS_URL, process.env.MMIM_EXCHANGE_REDIS_URL)',
      ],
      env,
    );
    assert.equal(
      other.stdout.trim(),
      'redis://:pw@redis:6379/0 redis://:xpw@exchange-redis:6379/0',
    );
  });
});

describe('deploy/make-secrets.sh', () => {
  it('writes six random secrets in a private folder, and keeps existing ones', () => {
    const dir = path.join(tmpDir('secrets'), 'secrets');
    try {
      execFileSync('sh', [MAKE_SECRETS, dir, 'redis.example:6380'], { stdio: 'pipe' });
      assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
      const read = (f: string): string => fs.readFileSync(path.join(dir, f), 'utf8');
      for (const f of ['join-token', 'admin-token', 'redis-password', 'exchange-redis-password'])
        assert.match(read(f), /^[0-9a-f]{64}$/);
      assert.notEqual(read('join-token'), read('admin-token'));
      assert.notEqual(read('redis-password'), read('exchange-redis-password'));
      assert.equal(read('redis-url'), `redis://:${read('redis-password')}@redis.example:6380/0`);
      // The exchange host defaults to the compose service.
      assert.equal(
        read('exchange-redis-url'),
        `redis://:${read('exchange-redis-password')}@exchange-redis:6379/0`,
      );
      assert.deepEqual(fs.readdirSync(dir).sort(), [
        'admin-token',
        'exchange-redis-password',
        'exchange-redis-url',
        'join-token',
        'redis-password',
        'redis-url',
      ]);
      const before = read('join-token');
      const again = execFileSync('sh', [MAKE_SECRETS, dir, 'redis.example:6380'], {
        encoding: 'utf8',
      });
      assert.match(again, /kept +.*join-token/);
      assert.equal(read('join-token'), before);
    } finally {
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });

  it('takes the exchange Redis host as a third argument, and refuses bad usage with exit 2', async () => {
    const dir = path.join(tmpDir('secrets'), 'secrets');
    try {
      execFileSync('sh', [MAKE_SECRETS, dir, 'mmim-redis:6379', 'mmim-exchange-redis:6390'], {
        stdio: 'pipe',
      });
      const read = (f: string): string => fs.readFileSync(path.join(dir, f), 'utf8');
      assert.equal(
        read('exchange-redis-url'),
        `redis://:${read('exchange-redis-password')}@mmim-exchange-redis:6390/0`,
      );
      assert.equal(read('redis-url'), `redis://:${read('redis-password')}@mmim-redis:6379/0`);
    } finally {
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    }
    const usage = /^usage: make-secrets\.sh DIR REDIS_HOST:PORT \[EXCHANGE_REDIS_HOST:PORT\]$/m;
    const scratch = tmpDir('secrets-usage');
    try {
      for (const args of [
        [],
        [path.join(scratch, 's')],
        [path.join(scratch, 's'), 'a:1', 'b:2', 'c:3'],
      ]) {
        const r = await run('sh', [MAKE_SECRETS, ...args]);
        assert.equal(r.status, 2, `${args.length} arguments`);
        assert.match(r.stderr, usage);
      }
      assert.equal(fs.existsSync(path.join(scratch, 's')), false, 'nothing written on bad usage');
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });
});

describe('deploy/k8s/base/redis.conf', () => {
  it('is accepted by a real redis-server: AOF on, no eviction, password from the command line', async () => {
    const dir = tmpDir('redis');
    // The config binds all interfaces for the container; here loopback, on a free port.
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const server = spawn(
      'redis-server',
      [
        REDIS_CONF,
        '--dir',
        dir,
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--requirepass',
        'pw',
        '--save',
        '',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    server.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    const cli = (...args: string[]): string =>
      execFileSync('redis-cli', ['-p', String(port), '--no-auth-warning', ...args], {
        encoding: 'utf8',
      }).trim();
    try {
      const deadline = Date.now() + 15_000;
      while (!/Ready to accept connections/.test(log)) {
        if (server.exitCode !== null || Date.now() > deadline) {
          throw new Error(`redis-server did not start with ${REDIS_CONF}:\n${log}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const get = (key: string): string =>
        cli('-a', 'pw', 'CONFIG', 'GET', key).split('\n')[1] ?? '';
      assert.equal(get('appendonly'), 'yes');
      assert.equal(get('appendfsync'), 'everysec');
      assert.equal(get('maxmemory-policy'), 'noeviction');
      assert.equal(get('timeout'), '0');
      assert.equal(cli('-a', 'pw', 'SET', 'k', 'v'), 'OK');
      assert.ok(fs.existsSync(path.join(dir, 'appendonlydir')), 'the AOF is written under dir');
      assert.match(cli('GET', 'k'), /NOAUTH/, 'the password is required');
    } finally {
      if (server.exitCode === null) {
        const exited = new Promise((resolve) => server.once('exit', resolve));
        server.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy/k8s/base/exchange-redis.conf', () => {
  it('is accepted by a real redis-server: no AOF, no RDB, noeviction at maxmemory, password required', async () => {
    const dir = tmpDir('exchange-redis');
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    // As the deployments start it, with a small maxmemory to reach it here.
    const server = spawn(
      'redis-server',
      [
        EXCHANGE_REDIS_CONF,
        '--dir',
        dir,
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--maxmemory',
        '4mb',
        '--requirepass',
        'pw',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    server.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    const cli = (...args: string[]): string =>
      execFileSync('redis-cli', ['-p', String(port), '--no-auth-warning', ...args], {
        encoding: 'utf8',
      }).trim();
    try {
      const deadline = Date.now() + 15_000;
      while (!/Ready to accept connections/.test(log)) {
        if (server.exitCode !== null || Date.now() > deadline) {
          throw new Error(`redis-server did not start with ${EXCHANGE_REDIS_CONF}:\n${log}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const get = (key: string): string =>
        cli('-a', 'pw', 'CONFIG', 'GET', key).split('\n')[1] ?? '';
      assert.equal(get('appendonly'), 'no');
      assert.equal(get('save'), '', 'no RDB save points');
      assert.equal(get('maxmemory-policy'), 'noeviction');
      assert.equal(get('maxmemory'), String(4 * 1024 * 1024));
      assert.equal(get('timeout'), '0');
      assert.match(cli('GET', 'k'), /NOAUTH/, 'the password is required');
      // Past maxmemory a write fails loudly and nothing already there is evicted.
      // 1 MiB values, as the exchange's parts are (redis-cli -x: the value from stdin).
      const part = Buffer.alloc(1024 * 1024, 7);
      const answers: string[] = [];
      for (let i = 0; i < 8; i++) {
        answers.push(
          execFileSync(
            'redis-cli',
            ['-p', String(port), '--no-auth-warning', '-a', 'pw', '-x', 'SET', `part:${i}`],
            { input: part, encoding: 'utf8' },
          ).trim(),
        );
      }
      assert.ok(answers[0] === 'OK', answers.join(', '));
      const oom = answers.findIndex((a) => /OOM/.test(a));
      assert.ok(oom > 0, `an OOM error once full: ${answers.join(', ')}`);
      assert.equal(cli('-a', 'pw', 'EXISTS', 'part:0'), '1', 'no key evicted');
    } finally {
      if (server.exitCode === null) {
        const exited = new Promise((resolve) => server.once('exit', resolve));
        server.kill('SIGTERM');
        await exited;
      }
    }
    try {
      // Shut down with keys in memory: still nothing on disk (no dump.rdb, no appendonlydir).
      assert.deepEqual(fs.readdirSync(dir), []);
      assert.doesNotMatch(log, /Saving the final RDB|DB saved on disk/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
