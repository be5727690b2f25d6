/**
 * bench/cli: how long `mmim` takes to answer, and how much memory it takes, for the commands a
 * user types most: `mmim --help`, `mmim sweep ls` and `mmim sweep status ID` against a running
 * coordinator (a local cluster with no workers, started here, with one sweep in it). Side by
 * side: this checkout's compiled CLI (apps/cli/dist, built here first: apps/cli/scripts/build.mjs,
 * what `npm ci` runs), the same CLI from its TypeScript sources (MMIM_CLI_FROM_SOURCE=1), a
 * baseline checkout of another commit (a git worktree sharing this node_modules; default: the
 * commit before the lazy-loading CLI), and `node -e 0` as the floor. Prints the median and max
 * wall time and the max RSS (GNU time) per command.
 *
 *   npm run bench:cli -- [--runs 5] [--baseline REF]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LocalCluster } from '@mmim/cli';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    baseline: { type: 'string', default: '41dd2c0' },
  },
});
const runs = Number(args.runs);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** A worktree of `ref` whose node_modules is this checkout's (nothing to install). */
function baselineCheckout(ref: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-cli-baseline-'));
  const r = spawnSync('git', ['worktree', 'add', '--detach', dir, ref], { cwd: root });
  if (r.status !== 0) throw new Error(`git worktree add ${ref}: ${r.stderr.toString()}`);
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

/** Wall seconds and max RSS (KiB) of one command, through GNU time. */
function measure(argv: string[], env: NodeJS.ProcessEnv): { s: number; kib: number } {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', ...argv], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  const [s, kib] = (r.stderr.trim().split('\n').pop() ?? '').split(' ').map(Number);
  return { s: s ?? NaN, kib: kib ?? NaN };
}

function summary(xs: { s: number; kib: number }[]): string {
  const s = xs.map((x) => x.s).sort((a, b) => a - b);
  const median = s[Math.floor(s.length / 2)] ?? NaN;
  const mib = Math.max(...xs.map((x) => x.kib)) / 1024;
  return `median ${median.toFixed(2)} s, max ${Math.max(...s).toFixed(2)} s, ${mib.toFixed(0)} MiB`;
}

console.log(`bench/cli | ${new Date().toISOString()} | load average ${load()} | ${runs} runs each`);
const built = spawnSync(process.execPath, [path.join(root, 'apps/cli/scripts/build.mjs')], {
  encoding: 'utf8',
});
if (built.status !== 0 || /not compiled/.test(built.stderr))
  throw new Error(`apps/cli/scripts/build.mjs failed: ${built.stderr}`);
const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-bench-cli-'));
const cluster = await LocalCluster.start({ workers: 0, runDir, httpPort: 0 });
const base = baselineCheckout(args.baseline ?? 'HEAD');
try {
  const { sweep } = await cluster.api.createSweep(
    fs.readFileSync(path.join(root, 'examples/sweeps/quickstart.yaml'), 'utf8'),
  );
  const env = {
    ...process.env,
    MMIM_URL: cluster.httpUrl,
    MMIM_ADMIN_TOKEN: fs.readFileSync(cluster.adminTokenFile, 'utf8').trim(),
  };
  const commands: [string, string[]][] = [
    ['--help', ['--help']],
    ['sweep ls', ['sweep', 'ls']],
    [`sweep status`, ['sweep', 'status', sweep.id]],
  ];
  const floor = Array.from({ length: runs }, () => measure([process.execPath, '-e', '0'], env));
  console.log(`${'node -e 0 (the floor)'.padEnd(28)} ${summary(floor)}`);
  for (const [label, argv] of commands) {
    // Interleaved, so both see the same load.
    const compiled: { s: number; kib: number }[] = [];
    const source: { s: number; kib: number }[] = [];
    const before: { s: number; kib: number }[] = [];
    const bin = path.join(root, 'apps/cli/bin/mmim.js');
    for (let i = 0; i < runs; i++) {
      compiled.push(measure([process.execPath, bin, ...argv], env));
      source.push(measure([process.execPath, bin, ...argv], { ...env, MMIM_CLI_FROM_SOURCE: '1' }));
      before.push(
        measure([process.execPath, path.join(base, 'apps/cli/bin/mmim.js'), ...argv], env),
      );
    }
    console.log(`mmim ${label}`);
    console.log(`  compiled:     ${summary(compiled)}`);
    console.log(`  from sources: ${summary(source)}`);
    console.log(`  ${`${args.baseline}:`.padEnd(13)} ${summary(before)}`);
  }
} finally {
  await cluster.stop();
  spawnSync('git', ['worktree', 'remove', '--force', base], { cwd: root });
}
console.log(`load average at the end ${load()}`);
