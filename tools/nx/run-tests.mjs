#!/usr/bin/env node
// Runs one Nx test target's files with node's test runner (the `test` and `e2e*` targets that
// tools/nx/targets.mjs defines all call this), or lists them.
//
//   node tools/nx/run-tests.mjs [--list] SPEC...
//
// A SPEC names a set of *.test.ts files:
//   DIR      every *.test.ts under DIR, at any depth (node_modules excluded)
//   DIR/*    only the *.test.ts files directly in DIR (not its sub-folders)
// Files are run in sorted order, each once, in one `node --import tsx --test` process (so the
// runner's own concurrency rule applies: availableParallelism() - 1 files at a time).
// A SPEC that matches no file is an error: a target that silently runs nothing would pass.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TEST_FILE = /\.test\.ts$/;

/** Every *.test.ts file a SPEC names, relative to `root`, sorted. */
export function filesOfSpec(spec, root = process.cwd()) {
  const shallow = spec.endsWith('/*');
  const dir = shallow ? spec.slice(0, -2) : spec.replace(/\/+$/, '');
  const abs = path.resolve(root, dir);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) {
    throw new Error(`run-tests: ${spec}: no such directory (${abs})`);
  }
  const found = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (!shallow && e.name !== 'node_modules') walk(p);
      } else if (e.isFile() && TEST_FILE.test(e.name)) {
        found.push(path.relative(root, p).split(path.sep).join('/'));
      }
    }
  };
  walk(abs);
  return found.sort();
}

/** The files of several SPECs, each file once; throws naming the SPEC that matches nothing. */
export function filesOfSpecs(specs, root = process.cwd()) {
  const all = new Set();
  for (const spec of specs) {
    const files = filesOfSpec(spec, root);
    if (files.length === 0) throw new Error(`run-tests: ${spec}: no *.test.ts files`);
    files.forEach((f) => all.add(f));
  }
  return [...all].sort();
}

/** The SPECs of a command line written for this script, or undefined if it is not one. */
export function specsOfCommand(command) {
  const m = /^node tools\/nx\/run-tests\.mjs((?: '[^'\s]+')+)$/.exec(command.trim());
  return m?.[1]
    ?.trim()
    .split(/\s+/)
    .map((s) => s.slice(1, -1));
}

function main(argv) {
  const list = argv[0] === '--list';
  const specs = list ? argv.slice(1) : argv;
  if (specs.length === 0) {
    console.error('usage: node tools/nx/run-tests.mjs [--list] SPEC...  (SPEC: DIR or DIR/*)');
    process.exit(2);
  }
  let files;
  try {
    files = filesOfSpecs(specs);
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
  if (list) {
    for (const f of files) console.log(f);
    return;
  }
  // Nx gives every task FORCE_COLOR=true unless the caller set it, and the processes the tests
  // start (CLI, coordinator, workers) would inherit it: run them as a plain `node --test` would.
  const env = { ...process.env };
  if (env.NX_TASK_TARGET_PROJECT !== undefined && env.FORCE_COLOR === 'true')
    delete env.FORCE_COLOR;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-reporter=spec', ...files],
    { stdio: 'inherit', env },
  );
  // Nx stops a task with SIGTERM/SIGINT; pass it on so no test process outlives its target.
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2));
}
