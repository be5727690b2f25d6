/**
 * The `mmim` command tells the truth (issue 15 item 4), as users run it: real child processes
 * of the CLI, and a real coordinator (itself `mmim coordinator`, on a real redis-server) where
 * an answer of the server is the point. Exit codes are the documented ones: 0 ok, 1 failed,
 * 2 usage, 3 refused.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { startRedisServer, type RedisServerHandle } from '@mmim/param-server/testing';

const MMIM = path.resolve('apps/cli/bin/mmim.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-cli-truth-'));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function mmim(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MMIM, ...args], {
      env: { ...process.env, MMIM_LOG_LEVEL: 'info', MMIM_BACKEND: 'cpu', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs `jobs` at most `width` at a time (each CLI start loads TF.js: seconds of CPU). */
async function pooled<T>(jobs: (() => Promise<T>)[], width: number): Promise<T[]> {
  const out: T[] = new Array<T>(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await (jobs[i] as () => Promise<T>)();
      }
    }),
  );
  return out;
}

/** The command names a `--help` text lists under "Commands:". */
function commandsOf(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1] ?? '';
  return section
    .split('\n')
    .map((l) => /^ {2}(\S+)/.exec(l)?.[1])
    .filter((c): c is string => c !== undefined && c !== 'help');
}

function write(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}

describe('mmim exit codes and messages without a coordinator', () => {
  it('--help works on every command and subcommand (exit 0, the usage on stdout)', async () => {
    const top = await mmim(['--help']);
    assert.equal(top.code, 0, top.stderr);
    const commands = commandsOf(top.stdout);
    for (const c of ['train', 'up', 'coordinator', 'worker', 'sweep', 'data', 'eval'])
      assert.ok(commands.includes(c), `${c} listed in ${commands.join(', ')}`);
    const groups = await pooled(
      commands.map((c) => () => mmim([c, '--help'])),
      4,
    );
    const paths: string[][] = [];
    commands.forEach((c, i) => {
      const r = groups[i] as Run;
      // `mmim worker --help` said "Unknown option '--help'" and exited 1 before.
      assert.equal(r.code, 0, `mmim ${c} --help: ${r.stderr}`);
      assert.match(r.stdout, /usage/i, `mmim ${c} --help prints its usage`);
      for (const sub of commandsOf(r.stdout)) paths.push([c, sub]);
    });
    assert.ok(paths.length >= 9, `subcommands found: ${paths.map((p) => p.join(' ')).join(', ')}`);
    const subs = await pooled(
      paths.map((p) => () => mmim([...p, '--help'])),
      4,
    );
    paths.forEach((p, i) => {
      const r = subs[i] as Run;
      assert.equal(r.code, 0, `mmim ${p.join(' ')} --help: ${r.stderr}`);
      assert.match(r.stdout, /usage/i);
    });
  });

  it("the apps' own entry points take --help too (the coordinator said unknown option)", async () => {
    const runs = await pooled(
      ['apps/coordinator/src/main.ts', 'apps/worker/src/main.ts'].map(
        (main) => () =>
          new Promise<Run & { main: string }>((resolve) => {
            const child = spawn(process.execPath, ['--import', 'tsx', main, '--help'], {
              stdio: ['ignore', 'pipe', 'pipe'],
            });
            let stdout = '';
            let stderr = '';
            child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
            child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
            child.on('close', (code) => resolve({ main, code, stdout, stderr }));
          }),
      ),
      2,
    );
    for (const r of runs) {
      assert.equal(r.code, 0, `${r.main} --help: ${r.stderr}`);
      assert.match(r.stdout, /^usage: /, r.main);
    }
  });

  it('exits 2 on bad usage everywhere (1 before in several places)', async () => {
    const cases: [string[], RegExp][] = [
      [['data', 'synth', '--like', 'imdb', '--out', path.join(tmp, 'x')], /--like must be mosi/],
      [['data', 'synth', '--like', 'mosi', '--seed', 'x', '--out', tmp], /non-negative integer/],
      [['up', '--port', 'abc'], /expected a port number/],
      [['worker', '--nope'], /Unknown option '--nope'/],
      [['coordinator', '--nope'], /Unknown option '--nope'/],
      [['train', '--lr-mian', '1'], /unknown option/],
    ];
    const runs = await pooled(
      cases.map(
        ([args]) =>
          () =>
            mmim(args),
      ),
      3,
    );
    cases.forEach(([args, message], i) => {
      const r = runs[i] as Run;
      assert.equal(r.code, 2, `mmim ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    });
  });

  it('refuses a token on the command line, pointing to the file flag and the variable', async () => {
    const runs = await pooled(
      [
        () => mmim(['worker', '--coordinator', '127.0.0.1:1', '--token', 'secret-on-argv']),
        () => mmim(['worker', '--token=secret-on-argv']),
        () => mmim(['coordinator', '--token', 'secret-on-argv']),
        () => mmim(['coordinator', '--admin-token', 'secret-on-argv']),
      ],
      4,
    );
    for (const r of runs.slice(0, 3)) {
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /--token is refused: .*--token-file FILE or MMIM_JOIN_TOKEN/);
    }
    assert.equal(runs[3]?.code, 2);
    assert.match(runs[3]?.stderr ?? '', /--admin-token-file FILE or MMIM_ADMIN_TOKEN/);
  });

  it('data inspect of a pickle the strict unpickler refuses prints the problem and exits 1 (0 before)', async () => {
    // A pickle calling os.system: the classic payload the unpickler must never run.
    const evil = path.join(tmp, 'evil.pkl');
    fs.writeFileSync(evil, Buffer.from("cos\nsystem\n(S'echo pwned'\ntR.", 'latin1'));
    const r = await mmim(['data', 'inspect', evil]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /os|system|global/i);
    const json = await mmim(['data', 'inspect', evil, '--json']);
    assert.equal(json.code, 1);
    assert.equal((JSON.parse(json.stdout) as { ok: boolean }).ok, false);
  });
});

describe('mmim against a real coordinator', () => {
  let redis: RedisServerHandle;
  let coordinator: ChildProcess;
  let url = '';
  let grpcAddress = '';
  const join = write('join-token', 'join-token-for-the-cli-truth-test-0123456789\n');
  const admin = write('admin-token', 'admin-token-for-the-cli-truth-test-0123456789\n');
  const wrong = write('wrong-token', 'not-the-admin-token-nor-the-join-token-0123\n');
  const api = (): string[] => ['--url', url, '--admin-token-file', admin];

  before(async () => {
    redis = await startRedisServer();
    coordinator = spawn(
      process.execPath,
      [MMIM, 'coordinator', '--port', '0', '--http-port', '0', '--token-file', join],
      {
        env: {
          ...process.env,
          MMIM_LOG_LEVEL: 'info',
          MMIM_ADMIN_TOKEN: fs.readFileSync(admin, 'utf8').trim(),
          MMIM_REDIS_URL: `redis://127.0.0.1:${redis.port}`,
        },
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('coordinator did not listen')), 60_000);
      readline.createInterface({ input: coordinator.stdout! }).on('line', (line) => {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed['event'] === 'listening') {
          clearTimeout(timer);
          resolve(parsed);
        }
      });
      coordinator.once('exit', (code) => reject(new Error(`coordinator exited ${code}`)));
    });
    url = String(listening['http']);
    grpcAddress = String(listening['address']);
  });

  after(async () => {
    if (coordinator.exitCode === null) {
      const exited = new Promise((r) => coordinator.once('exit', r));
      coordinator.kill('SIGKILL');
      await exited;
    }
    await redis.stop();
  });

  it('shows a 413 as the coordinator said it, with its limit, not "cannot reach" (exit 2)', async () => {
    // 40 MB: the coordinator answered 413 and closed the connection under the client, which
    // printed "cannot reach the coordinator ... is it running?" (exit 1).
    for (const mb of [10, 40]) {
      const big = write(`big-${mb}.yaml`, `name: big\n# ${'x'.repeat(mb * 1024 * 1024)}\n`);
      const r = await mmim(['sweep', 'create', big, ...api()]);
      assert.equal(r.code, 2, `${mb} MB: ${r.stderr}`);
      assert.match(
        r.stderr,
        /413 request body of \d+ bytes is over the coordinator's limit of 1048576 bytes/,
      );
      assert.doesNotMatch(r.stderr, /cannot reach/);
    }
  });

  it('reports every problem of a sweep file at once, named by the file (exit 2)', async () => {
    const bad = write(
      'bad-sweep.yaml',
      [
        'name: bad',
        'data: {synthetic: mosi}',
        'workers_per_trial: 0',
        'metric: {name: valid.mse, goal: minimize}',
        'parameters:',
        '  beta: {distribution: uniform, min: 1, max: 0}',
        '  nope: {values: [1]}',
        'trainer: {num_epochs: -1}',
      ].join('\n'),
    );
    const r = await mmim(['sweep', 'create', bad, ...api()]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`400 ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    for (const key of [
      'method',
      'workers_per_trial',
      'metric.name',
      'parameters.beta',
      'parameters.nope',
      'trainer.num_epochs',
    ])
      assert.ok(r.stderr.includes(`${key}: `), `${key} reported in: ${r.stderr}`);
  });

  it('shows 401 (exit 3) and 409 (exit 1) as the coordinator said them', async () => {
    const sweep = write(
      'ok-sweep.yaml',
      [
        'name: cli-truth',
        'data: {synthetic: mosi, train: 8, valid: 8, test: 8}',
        'method: grid',
        'metric: {name: valid.mae, goal: minimize}',
        'parameters:',
        '  alpha: {values: [0.1]}',
        'trainer: {num_epochs: 1}',
      ].join('\n'),
    );
    const refused = await mmim([
      'sweep',
      'create',
      sweep,
      '--url',
      url,
      '--admin-token-file',
      wrong,
    ]);
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /401 this action needs the admin token/);
    const made = await mmim(['sweep', 'create', sweep, ...api(), '--json']);
    assert.equal(made.code, 0, made.stderr);
    const id = (JSON.parse(made.stdout) as { id: string }).id;
    assert.equal((await mmim(['sweep', 'pause', id, ...api()])).code, 0);
    const again = await mmim(['sweep', 'pause', id, ...api()]);
    assert.equal(again.code, 1, again.stderr);
    assert.match(again.stderr, /409 .*paused/);
  });

  it('a worker whose join token is refused exits 3 (1 before), logging JSON lines only', async () => {
    const r = await mmim(['worker', '--coordinator', grpcAddress, '--token-file', wrong]);
    assert.equal(r.code, 3, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    const records = lines.map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return assert.fail(`not a JSON line: ${l}`);
      }
    });
    const refusal = records.find((x) => x['msg'] === 'join refused');
    assert.ok(refusal, lines.join('\n'));
    const err = refusal['err'] as { type?: string; message?: string; stack?: string };
    assert.equal(err.type, 'FatalJoinError');
    assert.match(err.stack ?? '', /FatalJoinError: coordinator refused this worker/);
  });
});
