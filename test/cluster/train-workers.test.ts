/**
 * `mmim train --workers K` honours the `mmim train` flags (issue 14): the same command with
 * `--workers 1`, `--workers 2` and without `--workers` writes the same `--save` file (--init,
 * --bert-config, --no-shuffle, --dropout, --max-batches-per-stage, --seed, --seeds), `--resume`
 * starts the trial from the given checkpoint, and a flag it cannot honour is a usage error.
 * Real processes throughout: the CLI, redis-server, the coordinator, the workers.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { readSafetensorsFile, type SafetensorsFile } from '@mmim/runtime';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-train-workers-'));
const at = (name: string): string => path.join(tmp, name);

function mmim(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(root, 'apps/cli/bin/mmim.js'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, MMIM_LOG_LEVEL: 'warn', MMIM_BACKEND: 'wasm' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: ReturnType<typeof mmim>): string {
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  return r.stdout;
}

/** Largest per-tensor relative difference (the attention key biases aside: see below). */
function worstDifference(a: SafetensorsFile, b: SafetensorsFile): number {
  assert.deepEqual([...b.tensors.keys()].sort(), [...a.tensors.keys()].sort());
  let worst = 0;
  for (const [name, t] of a.tensors) {
    const x = t.data as Float32Array;
    const y = b.tensors.get(name)?.data as Float32Array;
    assert.deepEqual(b.tensors.get(name)?.shape, t.shape, name);
    let num = 0;
    let den = 0;
    let drift = 0;
    x.forEach((v, i) => {
      const d = v - (y[i] ?? NaN);
      num += d * d;
      den += v * v;
      drift = Math.max(drift, Math.abs(d));
    });
    // The key bias's true gradient is 0, so Adam steps it on float noise: bound it absolutely.
    if (name.endsWith('attention.self.key.bias')) assert.ok(drift < 1e-6, `${name}: ${drift}`);
    else worst = Math.max(worst, Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-12));
  }
  return worst;
}

describe('mmim train --workers K honours the train flags', { timeout: 900_000 }, () => {
  // Everything but --workers/--save/--out: the flags the issue lists, on a real dataset file.
  const common: string[] = [];

  before(() => {
    ok(mmim('data', 'synth', '--like', 'mosi', '--scale', '0.03', '--out', at('data'), '--json'));
    // A BERT config unlike the dataset's (1 layer, intermediate 96): it must reach the workers.
    const bert = JSON.parse(fs.readFileSync(at('data/config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    fs.writeFileSync(
      at('bert.json'),
      JSON.stringify({ ...bert, num_hidden_layers: 1, intermediate_size: 96 }),
    );
    const flags = [
      ...['--data', at('data'), '--epochs', '1', '--batch-size', '16'],
      ...['--max-batches-per-stage', '2', '--no-shuffle', '--dropout', '0.05'],
      ...['--bert-config', at('bert.json'), '--json'],
    ];
    // Initial weights that differ from any seed's initialisation: another run's result.
    ok(
      mmim(
        'train',
        ...flags,
        '--seed',
        '3',
        '--out',
        at('init-run'),
        '--save',
        at('init.safetensors'),
      ),
    );
    common.push(...flags, '--init', at('init.safetensors'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('--workers 1, --workers 2 and no --workers write the same --save file', async () => {
    ok(
      mmim(
        'train',
        ...common,
        '--seed',
        '7',
        '--out',
        at('single'),
        '--save',
        at('single.safetensors'),
      ),
    );
    ok(
      mmim(
        'train',
        ...common,
        '--seed',
        '7',
        '--workers',
        '1',
        '--out',
        at('w1'),
        '--save',
        at('w1.safetensors'),
      ),
    );
    const two = ok(
      mmim(
        ...['train', ...common, '--seeds', '7,8', '--workers', '2'],
        ...['--out', at('w2'), '--save', at('w2.safetensors')],
      ),
    );
    const single = await readSafetensorsFile(at('single.safetensors'));
    const one = await readSafetensorsFile(at('w1.safetensors'));
    const twoSeed7 = await readSafetensorsFile(at('w2.seed-7.safetensors'));
    assert.ok(fs.existsSync(at('w2.seed-8.safetensors')), '--seeds: one file per seed');
    // The flags reached the workers: --bert-config's shapes, and (through --init, --dropout,
    // --no-shuffle, --max-batches-per-stage) the same weights as the one-worker run.
    assert.deepEqual(
      one.tensors.get('text_enc.bertmodel.encoder.layer.0.intermediate.dense.weight')?.shape,
      [96, 128],
    );
    assert.equal(one.tensors.has('text_enc.bertmodel.encoder.layer.1.output.dense.weight'), false);
    assert.equal(worstDifference(single, one), 0, 'one worker: bit for bit');
    const worst = worstDifference(single, twoSeed7);
    assert.ok(worst <= 1e-5, `two workers: per-tensor relative difference ${worst}`);
    for (const file of [one, twoSeed7]) assert.deepEqual(file.metadata, single.metadata);
    // --seeds: a result per seed, then mean ± std over them.
    const results = two
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l['event'] === 'result');
    assert.deepEqual(
      results.map((r) => r['seed'] ?? r['seeds']),
      [7, 8, [7, 8]],
    );
  });

  it('--resume starts the trial from the given checkpoint', async () => {
    // A run with another seed; resumed (its one epoch done), the trial keeps its weights.
    ok(
      mmim(
        'train',
        ...common,
        '--seed',
        '9',
        '--out',
        at('seed9'),
        '--save',
        at('seed9.safetensors'),
      ),
    );
    const flags = common.filter((f, i) => f !== '--init' && common[i - 1] !== '--init');
    ok(
      mmim(
        ...['train', ...flags, '--seed', '7', '--workers', '2', '--out', at('resumed')],
        ...['--resume', at('seed9/last.safetensors'), '--save', at('resumed.safetensors')],
      ),
    );
    const seed9 = await readSafetensorsFile(at('seed9.safetensors'));
    const resumed = await readSafetensorsFile(at('resumed.safetensors'));
    assert.equal(worstDifference(seed9, resumed), 0);
    const seed7 = await readSafetensorsFile(at('single.safetensors'));
    assert.ok(worstDifference(seed7, resumed) > 1e-3, 'not what a fresh seed-7 run gives');
  });

  it('refuses, as a usage error naming each, the flags it cannot honour', () => {
    const r = mmim(
      ...['train', '--synthetic', '--workers', '2', '--batches', '3'],
      ...['--micro-batch', '4', '--out', at('refused')],
    );
    assert.equal(r.code, 2);
    assert.match(r.stderr, /not with --workers: --micro-batch \(.*\); --batches \(.*\)/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });
});
