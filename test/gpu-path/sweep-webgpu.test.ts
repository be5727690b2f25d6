/**
 * A local sweep on the webgpu backend runs to its end (`mmim up --backend webgpu --sweep FILE
 * --exit-when-done`, real processes: redis-server, coordinator, a worker training its trial in a
 * thread on Dawn/llvmpipe) and finds the same metric as the same sweep on wasm.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-webgpu-sweep-'));

function sweep(backend: 'wasm' | 'webgpu'): { best: number; runDir: string } {
  const file = path.join(tmp, 'sweep.yaml');
  fs.writeFileSync(
    file,
    [
      'name: webgpu-sweep',
      'data: {synthetic: mosi, train: 32, valid: 16, test: 16}',
      'method: grid',
      'metric: {name: valid.mae, goal: minimize}',
      'parameters:',
      '  alpha: {values: [0.1]}',
      'seeds: [1111]',
      'run_cap: 1',
      'trainer: {num_epochs: 1, batch_size: 16}',
    ].join('\n'),
  );
  const runDir = path.join(tmp, backend);
  const r = spawnSync(
    process.execPath,
    [
      path.join(root, 'apps/cli/bin/mmim.js'),
      'up',
      '--workers',
      '1',
      '--backend',
      backend,
      '--run-dir',
      runDir,
      '--http-port',
      '0',
      '--sweep',
      file,
      '--exit-when-done',
      '--json',
    ],
    {
      cwd: root,
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, MMIM_LOG_LEVEL: 'info' },
    },
  );
  assert.equal(r.status, 0, `${backend} sweep failed:\n${r.stderr.slice(-4000)}`);
  const last = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l['event'] === 'sweep')
    .at(-1) as { state: string; counts: { completed: number }; best: { value: number } | null };
  assert.equal(last.state, 'finished', `${backend}: the sweep finished`);
  assert.equal(last.counts.completed, 1);
  assert.ok(last.best !== null && Number.isFinite(last.best.value));
  return { best: last.best.value, runDir };
}

describe('a local sweep on webgpu', () => {
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("runs to its end on the webgpu backend with the wasm run's metric (1e-4)", () => {
    const gpu = sweep('webgpu');
    // The trial's thread really trained on webgpu (its runtime logs the backend it set up).
    const log = fs.readFileSync(path.join(gpu.runDir, 'logs', 'local-0.log'), 'utf8');
    const runtime = log
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l['name'] === 'runtime' && l['msg'] === 'TF.js backend ready');
    assert.ok(runtime.length > 0, 'the trial thread logged its backend');
    for (const l of runtime) assert.equal(l['backend'], 'webgpu');
    const cpu = sweep('wasm');
    assert.ok(
      Math.abs(gpu.best - cpu.best) <= 1e-4 * Math.abs(cpu.best),
      `valid.mae ${gpu.best} (webgpu) vs ${cpu.best} (wasm)`,
    );
  });
});
