/**
 * `mmim data inspect` of a folder of .csd sequences with its folds.json (a real child process of
 * the CLI on the h5py-written fixture): the folder is read through the reader table as
 * loadDataset reads it, so its splits are shown beside the sequences. Before the reader table it
 * printed the sequences only, and loadDataset refused the folder.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';

const MMIM = path.resolve('apps/cli/bin/mmim.js');
const FOLDER = path.resolve('libs/data/fixtures/csd_folder');

function mmim(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MMIM, ...args], {
      env: { ...process.env, MMIM_BACKEND: 'cpu' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('mmim data inspect of a .csd folder', () => {
  it('shows its splits (5/2/1 from folds.json) and its four sequences, exit 0', async () => {
    const r = await mmim(['data', 'inspect', FOLDER, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as {
      ok: boolean;
      format: string;
      splits: { name: string; size: number }[];
      sequences: { root: string }[];
    };
    assert.equal(report.ok, true);
    assert.equal(report.format, 'csd');
    assert.deepEqual(
      report.splits.map((s) => [s.name, s.size]),
      [
        ['train', 5],
        ['valid', 2],
        ['test', 1],
      ],
    );
    assert.deepEqual(report.sequences.map((s) => s.root).sort(), [
      'COVAREP',
      'FACET 4.2',
      'Opinion Segment Labels',
      'words',
    ]);
  });
});
