/**
 * The GPU check (bench/gpu) on llvmpipe: pack it, copy the repository as the device tool sends it
 * (tracked and untracked-not-ignored files, no node_modules) with the pack beside it, and run
 * `bash bench/gpu/run.sh` there with no Node.js on PATH, in its simulated mode
 * (GPU_CHECK_SIMULATE=llvmpipe: Dawn's OpenGL ES route on Mesa's llvmpipe, no nvidia-smi, no
 * ICD, no BERT-base). Proves the pack is self-contained and that every part runs and passes.
 *
 * The pack here uses xz -0 (speed) and one made-up .deb instead of downloading Debian's loader
 * packages, so the test needs no network; run.sh must put the made-up library on the path
 * because this machine has no library of that name. Needs Mesa's EGL (libegl1, libegl-mesa0,
 * libgles2, libgl1-mesa-dri), dpkg-deb, and xz or python3.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FAKE_LIB = 'libmmim-gpu-check-fake.so.1';
const BUDGET_S = 200;

interface Summary {
  mode: string;
  ok: boolean;
  route: string;
  adapter: string;
  seconds: number;
  parts: { name: string; status: string; seconds: number; note: string }[];
  figures: { part: string; config: string; ms_per_step: number; samples_per_s: number }[];
  pack: { commit: string; node: string } | null;
  probe: { ok: boolean; matmul: { check256MaxAbsDiff: number } | null } | null;
}

/** A .deb holding one file named like a library this machine does not have. */
function fakeDeb(dir: string): string {
  const root = path.join(dir, 'fake-deb');
  fs.mkdirSync(path.join(root, 'DEBIAN'), { recursive: true });
  fs.mkdirSync(path.join(root, 'usr/lib/x86_64-linux-gnu'), { recursive: true });
  fs.writeFileSync(
    path.join(root, 'DEBIAN/control'),
    'Package: mmim-gpu-check-fake\nVersion: 1.0\nArchitecture: amd64\nMaintainer: test <t@example.com>\nDescription: test\n',
  );
  fs.writeFileSync(path.join(root, 'usr/lib/x86_64-linux-gnu', FAKE_LIB), 'not a library\n');
  const debs = path.join(dir, 'debs');
  fs.mkdirSync(debs);
  execFileSync('dpkg-deb', ['--build', '--root-owner-group', root, path.join(debs, 'fake.deb')], {
    stdio: 'ignore',
  });
  return debs;
}

/** What the device tool sends: tracked and untracked-not-ignored files (so no node_modules). */
function copyWorkingTree(to: string): void {
  const files = execFileSync('git', ['ls-files', '-z', '-c', '-o', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  })
    .split('\0')
    .filter((f) => f.length > 0 && !f.startsWith('bench/gpu/dist/'));
  for (const f of new Set(files)) {
    const from = path.join(ROOT, f);
    if (!fs.existsSync(from)) continue; // deleted in the working tree
    fs.mkdirSync(path.dirname(path.join(to, f)), { recursive: true });
    fs.cpSync(from, path.join(to, f), { verbatimSymlinks: true });
  }
}

/** A PATH folder with every program of /usr/bin except Node.js and its package managers. */
function pathWithoutNode(dir: string): string {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  for (const name of fs.readdirSync('/usr/bin')) {
    if (/^(node|nodejs|npm|npx|corepack|yarn|pnpm)$/.test(name)) continue;
    fs.symlinkSync(path.join('/usr/bin', name), path.join(bin, name));
  }
  return `${bin}:/usr/sbin`;
}

function runCheck(
  cwd: string,
  env: NodeJS.ProcessEnv,
  out: string,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/bash', ['bench/gpu/run.sh', out], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), (BUDGET_S + 40) * 1000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('GPU check (bench/gpu), simulated on llvmpipe from a copy without Node.js', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpucheck-test-'));
  const tree = path.join(dir, 'tree');
  const out = path.join(dir, 'out');
  let run: { code: number | null; output: string };
  let summary: Summary;
  const part = (name: string) => summary.parts.find((p) => p.name === name);

  before(async () => {
    const debs = fakeDeb(dir);
    const dist = path.join(tree, 'bench/gpu/dist');
    execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/gpu/pack.ts',
        '--out',
        dist,
        '--xz-level',
        '0',
        '--debs-from',
        debs,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 << 20 },
    );
    copyWorkingTree(tree);
    const env = {
      PATH: pathWithoutNode(dir),
      HOME: dir,
      TMPDIR: dir,
      GPU_CHECK_SIMULATE: 'llvmpipe',
      GPU_CHECK_BUDGET_S: String(BUDGET_S),
    };
    assert.throws(
      () => execFileSync('bash', ['-c', 'command -v node'], { env, stdio: 'ignore' }),
      'node must not be on the PATH the check runs with',
    );
    assert.ok(!fs.existsSync(path.join(tree, 'node_modules')));
    run = await runCheck(tree, env, out);
    summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as Summary;
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs every part in order, within its budget, and exits 0', () => {
    assert.deepEqual(
      summary.parts.map((p) => p.name),
      [
        'nvidia-smi',
        'unpack',
        'loaders',
        'icd',
        'probe',
        'parity',
        'bench-webgpu-tiny',
        'bench-wasm-tiny',
        'bench-webgpu-base',
      ],
    );
    assert.equal(summary.mode, 'simulate-llvmpipe');
    assert.ok(summary.seconds < BUDGET_S, `took ${summary.seconds} s`);
    assert.equal(run.code, 0, run.output.slice(-4000));
    assert.equal(summary.ok, true);
  });

  it('skips what needs an NVIDIA GPU and unpacks Node and the loader packages', () => {
    assert.equal(part('nvidia-smi')?.status, 'skipped');
    assert.equal(part('icd')?.status, 'skipped');
    assert.equal(part('bench-webgpu-base')?.status, 'skipped');
    assert.equal(part('unpack')?.status, 'passed');
    assert.match(part('unpack')?.note ?? '', new RegExp(`node ${process.version}`));
    assert.equal(part('loaders')?.status, 'passed');
    assert.match(part('loaders')?.note ?? '', new RegExp(FAKE_LIB.replaceAll('.', '\\.')));
    assert.equal(summary.pack?.node, process.version);
  });

  it('finds llvmpipe through Dawn and checks a matMul on it', () => {
    assert.equal(part('probe')?.status, 'passed', part('probe')?.note);
    assert.equal(summary.route, 'opengles');
    assert.match(summary.adapter, /llvmpipe/i);
    assert.equal(summary.probe?.ok, true);
    assert.ok((summary.probe?.matmul?.check256MaxAbsDiff ?? Infinity) < 1e-3);
  });

  it('passes the parity suite on webgpu', () => {
    assert.equal(part('parity')?.status, 'passed', part('parity')?.note);
    assert.match(part('parity')?.note ?? '', /on webgpu/);
  });

  it('measures the tiny-BERT step on webgpu and on wasm', () => {
    assert.equal(part('bench-webgpu-tiny')?.status, 'passed', part('bench-webgpu-tiny')?.note);
    assert.equal(part('bench-wasm-tiny')?.status, 'passed', part('bench-wasm-tiny')?.note);
    for (const p of ['bench-webgpu-tiny', 'bench-wasm-tiny']) {
      const f = summary.figures.find((x) => x.part === p && x.config === 'tiny');
      assert.ok(f !== undefined && f.ms_per_step > 0 && f.samples_per_s > 0, `${p}: no figure`);
    }
  });

  it('leaves at most 8 plainly named files in the output folder and prints the summary', () => {
    const files = fs.readdirSync(out);
    assert.ok(files.length <= 8, files.join(' '));
    for (const f of files) assert.match(f, /^[A-Za-z0-9._-]+$/);
    for (const f of [
      'summary.md',
      'summary.json',
      'system.log',
      'probe.log',
      'parity.log',
      'bench.log',
    ])
      assert.ok(files.includes(f), `${f} missing`);
    assert.match(run.output, /\| parity \| passed \|/);
  });
});
