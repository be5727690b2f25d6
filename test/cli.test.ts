/**
 * The `mmim` command as users run it (real child processes): evaluating a PyTorch MMIM state
 * dict (the parity fixture) on a dataset file reproduces PyTorch's predictions; export; exit
 * codes for bad usage (2) and failures (1).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NdArray, writePickleFile } from '@mmim/data';
import { readSafetensorsFile, type SafetensorsFile } from '@mmim/runtime';

const FIX = 'libs/model/parity/fixtures';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-cli-'));

function mmim(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['apps/cli/bin/mmim.js', ...args], {
    encoding: 'utf8',
    env: { ...process.env, MMIM_LOG_LEVEL: 'warn' },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tensor(f: SafetensorsFile, name: string): { shape: number[]; data: ArrayLike<number> } {
  const t = f.tensors.get(name);
  if (t === undefined) throw new Error(`fixture lacks ${name}`);
  return { shape: t.shape, data: t.data as ArrayLike<number> };
}

/** An MMSA-format pickle whose splits are the parity fixture's batches 0, 2 and 1. */
async function writeFixtureDataset(file: string): Promise<void> {
  const b = await readSafetensorsFile(path.join(FIX, 'batches.safetensors'));
  const split = (i: number) => {
    const ids = tensor(b, `batch${i}.bert_ids`);
    const [n = 0, L = 0] = ids.shape;
    const textBert = new Float64Array(n * 3 * L);
    const cols = ['bert_ids', 'bert_mask', 'bert_type'].map(
      (k) => tensor(b, `batch${i}.${k}`).data,
    );
    for (let s = 0; s < n; s++)
      for (let c = 0; c < 3; c++)
        for (let t = 0; t < L; t++) textBert[(s * 3 + c) * L + t] = cols[c]?.[s * L + t] ?? 0;
    const visual = tensor(b, `batch${i}.visual`);
    const acoustic = tensor(b, `batch${i}.acoustic`);
    return {
      raw_text: NdArray.strings(Array.from({ length: n }, () => '')),
      id: NdArray.strings(Array.from({ length: n }, (_, k) => `clip${i}_${k}`)),
      text_bert: NdArray.of('f8', textBert, [n, 3, L]),
      vision: NdArray.of('f4', Float32Array.from(visual.data), visual.shape),
      audio: NdArray.of('f4', Float32Array.from(acoustic.data), acoustic.shape),
      vision_lengths: NdArray.of('i4', Int32Array.from(tensor(b, `batch${i}.vlens`).data), [n]),
      audio_lengths: NdArray.of('i4', Int32Array.from(tensor(b, `batch${i}.alens`).data), [n]),
      regression_labels: NdArray.of('f4', Float32Array.from(tensor(b, `batch${i}.y`).data), [n]),
    };
  };
  writePickleFile(file, { train: split(0), valid: split(2), test: split(1) });
}

describe('mmim CLI', () => {
  it('eval of a PyTorch state dict reproduces PyTorch predictions within 1e-5', async () => {
    const data = path.join(tmp, 'parity.pkl');
    await writeFixtureDataset(data);
    const init = await readSafetensorsFile(path.join(FIX, 'init.safetensors'));
    const bert = (JSON.parse(init.metadata.config ?? '{}') as { bert: Record<string, unknown> })
      .bert;
    const bertConfig = path.join(tmp, 'bert.json');
    fs.writeFileSync(
      bertConfig,
      JSON.stringify({ ...bert, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 }),
    );
    const out = path.join(tmp, 'preds.json');
    const r = mmim(
      'eval',
      '--checkpoint',
      path.join(FIX, 'init.safetensors'),
      '--data',
      data,
      '--bert-config',
      bertConfig,
      '--split',
      'test',
      '--output',
      out,
      '--json',
      '--backend',
      'wasm',
    );
    assert.equal(r.code, 0, r.stderr);
    const preds = JSON.parse(fs.readFileSync(out, 'utf8')) as number[];
    const forward = await readSafetensorsFile(path.join(FIX, 'forward.safetensors'));
    const expected = tensor(forward, 's1.preds').data;
    assert.equal(preds.length, 12);
    preds.forEach((p, i) =>
      assert.ok(Math.abs(p - (expected[i] ?? NaN)) <= 1e-5, `sample ${i}: ${p} vs ${expected[i]}`),
    );
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as {
      metrics: { mae: number; n: number };
    };
    assert.equal(result.metrics.n, 12);
  });

  it('trains from a PyTorch state dict with --init and --bert-config, and takes --when 0', async () => {
    const data = path.join(tmp, 'parity-train.pkl');
    await writeFixtureDataset(data);
    const init = await readSafetensorsFile(path.join(FIX, 'init.safetensors'));
    const raw = JSON.parse(init.metadata.config ?? '{}') as Record<string, unknown> & {
      bert: Record<string, unknown>;
    };
    // Hidden size 32: the head count cannot be inferred from the shapes, only from the config.
    const bertConfig = path.join(tmp, 'bert-train.json');
    fs.writeFileSync(bertConfig, JSON.stringify(raw.bert));
    const config = path.join(tmp, 'trainer.json');
    const keys = ['d_vh', 'd_ah', 'd_vout', 'd_aout', 'd_prjh', 'cpc_layers'];
    fs.writeFileSync(config, JSON.stringify(Object.fromEntries(keys.map((k) => [k, raw[k]]))));
    const r = mmim(
      ...['train', '--data', data, '--config', config, '--bert-config', bertConfig],
      ...['--init', path.join(FIX, 'init.safetensors'), '--epochs', '1', '--batch-size', '4'],
      ...['--when', '0', '--backend', 'wasm', '--json', '--out', path.join(tmp, 'init-train')],
    );
    assert.equal(r.code, 0, r.stderr);
    const result = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l['event'] === 'result');
    assert.ok(result !== undefined, 'a result line');
    assert.equal(mmim('train', '--data', data, '--when', '-1', '--print-config').code, 2);
  });

  it('exports the weights alone, which load back as a PyTorch-style state dict', async () => {
    const out = path.join(tmp, 'exported.safetensors');
    const r = mmim('export', '--checkpoint', path.join(FIX, 'init.safetensors'), '--out', out);
    // A PyTorch file without a config cannot give the head count: export says so (exit 1).
    assert.equal(r.code, 1);
    assert.match(r.stderr, /num_attention_heads/);
    const quick = mmim(
      'train',
      '--synthetic',
      '--epochs',
      '1',
      '--batches',
      '1',
      '--batch-size',
      '4',
      '--out',
      tmp,
      '--json',
      '--backend',
      'wasm',
    );
    assert.equal(quick.code, 0, quick.stderr);
    const ok = mmim('export', '--checkpoint', path.join(tmp, 'model.safetensors'), '--out', out);
    assert.equal(ok.code, 0, ok.stderr);
    const f = await readSafetensorsFile(out);
    assert.ok(f.tensors.has('fusion_prj.linear_3.weight'));
    assert.ok(![...f.tensors.keys()].some((k) => k.startsWith('optimizer.')));
  });

  it('exits 2 on bad usage and 1 on a failure, with a one-line message', () => {
    const unknown = mmim('train', '--lr-mian', '1');
    assert.equal(unknown.code, 2);
    const badConfig = mmim('train', '--data', tmp, '--preset', 'imdb');
    assert.equal(badConfig.code, 2);
    assert.match(badConfig.stderr, /unknown preset 'imdb'/);
    const missing = mmim('train', '--data', path.join(tmp, 'nope'));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope: no such file or folder/);
    // --backend takes every backend the runtime can force, webgpu included, and nothing else.
    const tpu = mmim('train', '--print-config', '--backend', 'tpu');
    assert.equal(tpu.code, 2);
    assert.match(
      tpu.stderr,
      /Allowed choices are auto, tensorflow-gpu, tensorflow, webgpu, wasm, cpu/,
    );
    const webgpu = mmim('train', '--print-config', '--backend', 'webgpu');
    assert.equal(webgpu.code, 0, webgpu.stderr);
  });
});
