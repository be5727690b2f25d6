/**
 * The cluster commands as users run them (real child processes all the way down):
 * `mmim train --workers 2` trains one trial data-parallel on a local cluster and exits 0;
 * `mmim up --sweep FILE --exit-when-done` (the README's `npm start`) runs a sweep to its end,
 * then `mmim sweep ls` and `mmim sweep best` on a stopped cluster fail with a clear message.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function mmim(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['apps/cli/bin/mmim.js', ...args], {
    encoding: 'utf8',
    env: { ...process.env, MMIM_LOG_LEVEL: 'warn', MMIM_BACKEND: 'wasm' },
    timeout: 600_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('mmim cluster commands', { timeout: 900_000 }, () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-cli-cluster-'));

  it('train --workers 2 trains one trial data-parallel and exits 0', () => {
    const r = mmim(
      'train',
      '--workers',
      '2',
      '--synthetic',
      '--epochs',
      '1',
      '--batch-size',
      '16',
      '--out',
      path.join(tmp, 'train'),
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    const lines = jsonLines(r.stdout);
    assert.equal(lines.filter((l) => l['event'] === 'epoch').length, 1);
    const end = lines.find((l) => l['event'] === 'trial') as { trial: Record<string, unknown> };
    assert.equal(end.trial['state'], 'completed');
    assert.equal(end.trial['workersPerTrial'], 2);
    assert.equal((end.trial['placement'] as unknown[]).length, 2);
  });

  it('up --sweep FILE --exit-when-done runs the sweep to its end and stops everything', () => {
    const file = path.join(tmp, 'sweep.yaml');
    fs.writeFileSync(
      file,
      [
        'name: cli-up',
        'data: {synthetic: mosi, train: 32, valid: 16, test: 16}',
        'method: grid',
        'metric: {name: valid.mae, goal: minimize}',
        'parameters:',
        '  alpha: {values: [0.1, 0.3]}',
        'seeds: [1111]',
        'run_cap: 2',
        'trainer: {num_epochs: 1, batch_size: 16}',
      ].join('\n'),
    );
    const runDir = path.join(tmp, 'up');
    const r = mmim(
      'up',
      '--workers',
      '2',
      '--run-dir',
      runDir,
      '--http-port',
      '0',
      '--sweep',
      file,
      '--exit-when-done',
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    const lines = jsonLines(r.stdout);
    assert.ok(lines.some((l) => l['event'] === 'up' && typeof l['http'] === 'string'));
    const last = lines.filter((l) => l['event'] === 'sweep').at(-1) as {
      state: string;
      counts: { completed: number };
      best: { value: number } | null;
    };
    assert.equal(last.state, 'finished');
    assert.equal(last.counts.completed, 2);
    assert.ok(last.best && Number.isFinite(last.best.value));
    // Everything stopped: the API is gone, and the CLI says so instead of hanging.
    const ls = mmim('sweep', 'ls', '--run-dir', runDir);
    assert.equal(ls.code, 1);
    assert.match(ls.stderr, /cannot reach the coordinator at http:\/\/127\.0\.0\.1:\d+/);
  });
});
