/**
 * The Redis servers `mmim up` starts (the durable one and the exchange one of
 * `--exchange-redis auto`) require the password it generates into the run dir (mode 0600):
 * an unauthenticated client gets NOAUTH, the password appears in no process's argv, and the
 * coordinator and workers still run a two-worker sweep (every step through the exchange Redis)
 * to its end. A second `mmim up` on the same run dir reuses the password and reads the first
 * run's sweep back.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { until } from './helpers.js';
import { descendants, line, up, type Up } from './mmim-up.js';

/** Sends raw RESP commands and returns the replies' first lines, in order. */
function redisSay(port: number, ...commands: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.once('connect', () => s.write(commands.map((c) => `${c}\r\n`).join('')));
    s.on('data', (d) => {
      got += d.toString();
      const lines = got.split('\r\n').slice(0, -1);
      if (lines.length >= commands.length) {
        s.destroy();
        resolve(lines.slice(0, commands.length));
      }
    });
    s.once('error', reject);
  });
}

async function refusesWithoutPassword(port: number, password: string): Promise<void> {
  assert.deepEqual(await redisSay(port, 'PING'), ['-NOAUTH Authentication required.']);
  assert.deepEqual(await redisSay(port, 'AUTH wrong-password', 'PING'), [
    '-WRONGPASS invalid username-password pair or user is disabled.',
    '-NOAUTH Authentication required.',
  ]);
  assert.deepEqual(await redisSay(port, `AUTH ${password}`, 'PING'), ['+OK', '+PONG']);
}

describe('the Redis of mmim up has a password', { timeout: 900_000 }, () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-redis-auth-'));
  const runDir = path.join(tmp, 'run');
  const passwordFile = path.join(runDir, 'redis-password');
  const started: Up[] = [];
  let sweepId = '';
  let password = '';
  after(() => {
    for (const u of started) {
      for (const d of descendants(u.proc.pid!)) process.kill(d.pid, 'SIGKILL');
      u.proc.kill('SIGKILL');
    }
  });

  it('refuses an unauthenticated client, and the cluster runs a sweep to its end', async () => {
    const file = path.join(tmp, 'sweep.yaml');
    fs.writeFileSync(
      file,
      [
        'name: redis-auth',
        'data: {synthetic: mosi, train: 32, valid: 16, test: 16}',
        'method: grid',
        'metric: {name: valid.mae, goal: minimize}',
        'parameters:',
        '  alpha: {values: [0.1]}',
        'seeds: [1111]',
        'run_cap: 1',
        'workers_per_trial: 2',
        'trainer: {num_epochs: 1, batch_size: 16}',
      ].join('\n'),
    );
    const u = up(runDir, [
      '--workers',
      '2',
      '--exchange-redis',
      'auto',
      '--http-port',
      '0',
      '--sweep',
      file,
      '--exit-when-done',
    ]);
    started.push(u);
    const durable = await line(
      u,
      /^redis\s+redis:\/\/127\.0\.0\.1:(\d+) \(AOF in .*; password in (.*)\)$/,
      300_000,
    );
    const exchange = await line(
      u,
      /^exchange\s+redis:\/\/127\.0\.0\.1:(\d+) \(.*; password in (.*)\)$/,
      60_000,
    );
    assert.equal(durable[2], passwordFile);
    assert.equal(exchange[2], passwordFile);
    assert.equal(fs.statSync(passwordFile).mode & 0o777, 0o600);
    password = fs.readFileSync(passwordFile, 'utf8').trim();
    assert.match(password, /^[0-9a-f]{48}$/);
    for (const port of [Number(durable[1]), Number(exchange[1])]) {
      await refusesWithoutPassword(port, password);
    }
    sweepId = (await line(u, /^sweep\s+(\S+) started/, 120_000))[1]!;
    // No process of the cluster carries the password in its argv (`ps` shows argv to anyone).
    const children = descendants(u.proc.pid!);
    assert.ok(children.length >= 5, children.map((c) => c.cmd).join('\n'));
    for (const c of children) assert.ok(!c.cmd.includes(password), `password in argv: ${c.cmd}`);

    const { code } = await u.exited;
    assert.equal(code, 0, `${u.stderr()}\n${u.lines.join('\n')}`);
    assert.ok(
      u.lines.some((l) =>
        new RegExp(
          `^sweep ${sweepId}: finished; 1/1 trials done \\(0 running, 0 stopped early, 0 failed\\); best valid\\.mae \\d`,
        ).test(l),
      ),
      u.lines.join('\n'),
    );
  });

  it('a restart on the same run dir reuses the password and reads the first run back', async () => {
    assert.notEqual(sweepId, '', 'the first test ran');
    const u = up(runDir, ['--workers', '1', '--http-port', '0']);
    started.push(u);
    const durable = await line(u, /^redis\s+redis:\/\/127\.0\.0\.1:(\d+) /, 300_000);
    const http = (await line(u, /^dashboard\s+(http:\/\/\S+)\/$/, 300_000))[1]!;
    assert.equal(fs.readFileSync(passwordFile, 'utf8').trim(), password);
    await refusesWithoutPassword(Number(durable[1]), password);
    // The coordinator reads the first run's sweep from the AOF, through the same password.
    const sweep = await until('the first sweep listed', 120_000, async () => {
      const res = await fetch(`${http}/api/sweeps/${sweepId}`);
      return res.ok ? ((await res.json()) as { sweep: { state: string } }).sweep : null;
    });
    assert.equal(sweep.state, 'finished');
    u.proc.kill('SIGINT');
    assert.equal((await u.exited).code, 0, u.stderr());
  });
});
