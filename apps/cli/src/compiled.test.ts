/**
 * The compiled CLI (scripts/build.mjs, run by `npm install`/`npm ci`): built into a folder of
 * the test's own, it is the same program as the sources (same --help), its heavy commands run
 * from their TypeScript sources with the documented exit codes, the API commands' chunks import
 * no Redis, S3 or TF.js client, and bin/mmim.js's check refuses a build whose sources changed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const APP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(APP, 'bin', 'mmim.js');

type CompiledEntry = (dist?: URL) => string | null;
const { compiledEntry } = (await import(
  pathToFileURL(path.join(APP, 'bin', 'compiled-entry.js')).href
)) as { compiledEntry: CompiledEntry };

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    env: { ...process.env, MMIM_LOG_LEVEL: 'warn', ...env },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the compiled CLI', () => {
  // Beside src/ (the heavy commands are imported relative to it), removed afterwards.
  const out = path.join(APP, `dist-test-${process.pid}`);
  const dist = pathToFileURL(`${out}/`);
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-compiled-'));
    const r = run([path.join(APP, 'scripts', 'build.mjs'), out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /compiled the CLI into .*\(\d+ sources\)/);
    assert.doesNotMatch(r.stderr, /not compiled/, r.stderr);
  });
  after(() => {
    fs.rmSync(out, { recursive: true, force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('is what bin/mmim.js runs while its sources are unchanged', () => {
    assert.equal(compiledEntry(dist), new URL('main.js', dist).href);
  });

  it('prints the same --help as the sources', () => {
    const compiled = run([path.join(out, 'main.js'), '--help']);
    const source = run([BIN, '--help'], { MMIM_CLI_FROM_SOURCE: '1' });
    assert.equal(compiled.code, 0, compiled.stderr);
    assert.equal(source.code, 0, source.stderr);
    assert.match(compiled.stdout, /Usage: mmim/);
    assert.equal(compiled.stdout, source.stdout);
    const sub = run([path.join(out, 'main.js'), 'sweep', 'ls', '--help']);
    assert.equal(sub.code, 0, sub.stderr);
    assert.match(sub.stdout, /Usage: mmim sweep ls/);
  });

  it('runs a heavy command from its source, with its usage error and exit code', () => {
    // data.ts is not compiled in: this loads it through tsx, and its UsageError (the source's
    // class, not the bundle's copy) must still exit 2.
    const bad = run([path.join(out, 'main.js'), 'data', 'synth', '--like', 'imdb', '--out', tmp]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--like must be mosi or mosei, got 'imdb'/);
    const good = run([
      path.join(out, 'main.js'),
      ...['data', 'synth', '--like', 'mosi', '--scale', '0.01', '--out', tmp, '--json'],
    ]);
    assert.equal(good.code, 0, good.stderr);
    assert.ok(fs.existsSync(path.join(tmp, 'unaligned_50.pkl')));
  });

  it('imports no Redis, S3, queue or TF.js package in main.js and the API commands', () => {
    const files = fs.readdirSync(out).filter((f) => f.endsWith('.js'));
    assert.ok(files.includes('main.js'));
    for (const f of files) {
      const text = fs.readFileSync(path.join(out, f), 'utf8');
      for (const pkg of ['ioredis', '@aws-sdk/', 'bullmq', '@tensorflow/', 'fastify'])
        assert.ok(!text.includes(`from "${pkg}`), `${f} imports ${pkg}`);
    }
    // The heavy commands are imports of their sources, not compiled copies.
    const main = fs.readFileSync(path.join(out, 'main.js'), 'utf8');
    assert.match(main, /import\("\.\.\/src\/commands\/train\.ts"\)/);
  });

  it('is not run once a compiled source changed, when it is missing, or when asked', () => {
    const copy = path.join(tmp, 'dist');
    fs.mkdirSync(copy);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as {
      entry: string;
      sources: Record<string, string>;
    };
    // The copy names the same sources (absolute paths) so that only the digest differs.
    const sources = Object.fromEntries(
      Object.entries(manifest.sources).map(([file, digest]) => [
        fileURLToPath(new URL(file, dist)),
        digest,
      ]),
    );
    const write = (s: Record<string, string>) =>
      fs.writeFileSync(
        path.join(copy, 'manifest.json'),
        JSON.stringify({ ...manifest, sources: s }),
      );
    const copyUrl = pathToFileURL(`${copy}/`);
    write(sources);
    assert.equal(compiledEntry(copyUrl), new URL('main.js', copyUrl).href);
    const [first] = Object.keys(sources);
    assert.ok(first !== undefined);
    write({ ...sources, [first]: '0'.repeat(64) });
    assert.equal(compiledEntry(copyUrl), null, 'an edited source');
    write({ ...sources, [path.join(APP, 'src', 'gone.ts')]: '0'.repeat(64) });
    assert.equal(compiledEntry(copyUrl), null, 'a deleted source');
    fs.rmSync(path.join(copy, 'manifest.json'));
    assert.equal(compiledEntry(copyUrl), null, 'not built');
    process.env.MMIM_CLI_FROM_SOURCE = '1';
    try {
      assert.equal(compiledEntry(dist), null, 'MMIM_CLI_FROM_SOURCE=1');
    } finally {
      delete process.env.MMIM_CLI_FROM_SOURCE;
    }
  });
});
