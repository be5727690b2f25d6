/**
 * bench/gpu/pack.ts: builds bench/gpu/dist, everything the GPU check (bench/gpu/run.sh) needs on a
 * machine with no Node.js, no node_modules and no network. See bench/gpu/README.md.
 *
 *   npm run gpu-check:pack -- [--out DIR] [--xz-level 0-9] [--debs-from DIR | --no-debs]
 *
 * The folder holds MANIFEST.json and payload.tar.xz, which unpacks to:
 *   node/bin/node                     this machine's Node.js (x86-64 Linux)
 *   app/libs/model/src/parity.test.mjs, app/bench/model-step/main.mjs, app/bench/gpu/probe.mjs
 *                                     esbuild bundles (tfjs, our libs and their npm packages inside)
 *   app/libs/model/parity/fixtures/   the parity fixtures, where the parity code looks for them
 *   app/node_modules/webgpu/          the Dawn addon (dawn.node), loaded by the package's own loader
 *   app/node_modules/...              stubs, see writeStubs
 *   gl/*.deb                          Debian's Vulkan loader and glvnd EGL/GL libraries (amd64)
 *   MANIFEST.json                     what was packed, from which commit
 *
 * Each bundle sits at its source's place in a copy of the repository's layout, and a bundled
 * module's `import.meta.url` is rewritten to its source's place in that copy, so code that finds
 * files relative to itself (the parity fixtures, `createRequire`) finds them as in the repository.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The programs run on the GPU machine; each bundle keeps its source's path, `.ts` -> `.mjs`. */
const ENTRIES = [
  'libs/model/src/parity.test.ts',
  // The WGSL kernels against the JS ones, and the stepper's behaviour (memory, NaN, entropy).
  'libs/model/src/kernels/kernels.test.ts',
  'libs/model/src/model-webgpu.test.ts',
  'bench/model-step/main.ts',
  'bench/gpu/probe.ts',
] as const;
/** Data files the bundles read relative to their sources, copied to the same relative place. */
const ASSETS = ['libs/model/parity/fixtures'] as const;
/**
 * The Vulkan loader and glvnd's EGL/GL libraries (the set seen working on the device machines),
 * plus the X11 client libraries NVIDIA's GLX/Vulkan driver library links against, in case the
 * image lacks them. run.sh uses only those the GPU machine does not already have.
 */
const DEBS = [
  'libvulkan1',
  'libegl1',
  'libglvnd0',
  'libopengl0',
  'libgl1',
  'libglx0',
  'libgles2',
  'libx11-6',
  'libxext6',
  'libxcb1',
  'libxau6',
  'libxdmcp6',
  'libbsd0',
  'libmd0',
] as const;
/** What fits with the repository's own files under the device tool's 64 MiB. */
const MAX_DIST_BYTES = 60 * 1024 * 1024;
const MiB = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: path.join(ROOT, 'bench/gpu/dist') },
    'xz-level': { type: 'string', default: '9' },
    'debs-from': { type: 'string' },
    'no-debs': { type: 'boolean', default: false },
  },
});

function run(cmd: string, argv: string[], options: { cwd?: string } = {}): string {
  return execFileSync(cmd, argv, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
}

/**
 * Rewrites `import.meta.url` in every repository source except the entry to the URL the source
 * would have in app/ (the bundle's own URL plus a relative path), so path arithmetic done
 * relative to a module works as in the repository.
 */
function sourceUrlPlugin(entry: string, bundleDirInRepo: string): esbuild.Plugin {
  return {
    name: 'source-import-meta-url',
    setup(build) {
      build.onLoad({ filter: /\.[cm]?ts$/ }, async (file) => {
        const rel = path.relative(ROOT, file.path);
        if (rel.startsWith('..') || rel.split(path.sep).includes('node_modules')) return undefined;
        if (rel === entry) return undefined;
        const text = await fs.promises.readFile(file.path, 'utf8');
        if (!text.includes('import.meta.url')) return undefined;
        const fromBundle = path.relative(bundleDirInRepo, rel).split(path.sep).join('/');
        const url = `new URL(${JSON.stringify(fromBundle)}, import.meta.url).href`;
        return { contents: text.replaceAll('import.meta.url', url), loader: 'ts' };
      });
    },
  };
}

/** CommonJS globals for bundled CommonJS code (tfjs-backend-wasm finds its .wasm via __dirname). */
const BANNER = [
  "import { createRequire as __gpuCheckRequire } from 'node:module';",
  "import { fileURLToPath as __gpuCheckPath } from 'node:url';",
  "import { dirname as __gpuCheckDirname } from 'node:path';",
  'const require = __gpuCheckRequire(import.meta.url);',
  'const __filename = __gpuCheckPath(import.meta.url);',
  'const __dirname = __gpuCheckDirname(__filename);',
].join(' ');

/** Bundles one entry into app/; returns the npm packages bundled into it. */
async function bundle(
  entry: string,
  app: string,
): Promise<{ bytes: number; packages: Set<string> }> {
  const outRel = entry.replace(/\.ts$/, '.mjs');
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    outfile: path.join(app, outRel),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // The Dawn addon is a native file its own loader finds; the native TF packages are optional
    // and absent (the runtime checks for them, and they would not run without their libraries).
    external: ['webgpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'],
    banner: { js: BANNER },
    plugins: [sourceUrlPlugin(entry, path.dirname(outRel))],
    metafile: true,
    logLevel: 'warning',
  });
  const packages = new Set<string>();
  for (const input of Object.keys(result.metafile.inputs)) {
    const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m?.[1] !== undefined) packages.add(m[1]);
  }
  return { bytes: fs.statSync(path.join(app, outRel)).size, packages };
}

/**
 * Stubs in app/node_modules. `@mmim/runtime` asks `require.resolve` whether a backend's package
 * is installed before using it, so every bundled package gets a resolvable stub that throws if
 * anything ever loads it. `tsx`: bench/model-step starts its measuring children with
 * `node --import tsx`, resolved from the working directory; bundled code needs no loader, so
 * run.sh runs it from app/ where this empty module answers.
 */
function writeStubs(app: string, bundled: Set<string>): void {
  for (const name of bundled) {
    const dir = path.join(app, 'node_modules', name);
    fs.mkdirSync(dir, { recursive: true });
    const version = (
      JSON.parse(
        fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8'),
      ) as {
        version: string;
      }
    ).version;
    fs.writeFileSync(
      path.join(dir, 'package.json'),
      `${JSON.stringify({ name, version, main: 'bundled.cjs', exports: { '.': './bundled.cjs' } })}\n`,
    );
    fs.writeFileSync(
      path.join(dir, 'bundled.cjs'),
      `throw new Error(${JSON.stringify(`${name} is bundled into the gpu-check scripts; this stub only answers require.resolve`)});\n`,
    );
  }
  const tsx = path.join(app, 'node_modules/tsx');
  fs.mkdirSync(tsx, { recursive: true });
  fs.writeFileSync(
    path.join(tsx, 'package.json'),
    `${JSON.stringify({ name: 'tsx', type: 'module', exports: { '.': './index.js' } })}\n`,
  );
  fs.writeFileSync(
    path.join(tsx, 'index.js'),
    '// The bundles are plain JavaScript: nothing to load.\n',
  );
}

/** The `webgpu` package as its loader expects it, with only the linux-x64 addon. */
function copyWebGpu(app: string): string {
  const from = path.join(ROOT, 'node_modules/webgpu');
  const to = path.join(app, 'node_modules/webgpu');
  fs.mkdirSync(path.join(to, 'dist/linux-x64'), { recursive: true });
  for (const f of ['package.json', 'index.js', 'LICENSE.md'])
    fs.copyFileSync(path.join(from, f), path.join(to, f));
  fs.copyFileSync(
    path.join(from, 'dist/linux-x64/dawn.node'),
    path.join(to, 'dist/linux-x64/dawn.node'),
  );
  return (
    JSON.parse(fs.readFileSync(path.join(from, 'package.json'), 'utf8')) as { version: string }
  ).version;
}

/** tfjs-backend-wasm's .wasm files beside each bundle (Emscripten looks in __dirname). */
function copyWasm(app: string): void {
  const dir = path.join(ROOT, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
  const wasm = fs.readdirSync(dir).filter((f) => f.endsWith('.wasm'));
  for (const entry of ENTRIES) {
    const outDir = path.join(app, path.dirname(entry));
    // Hard links: tar stores each file once.
    for (const f of wasm) {
      const first = path.join(app, path.dirname(ENTRIES[0]), f);
      const target = path.join(outDir, f);
      if (fs.existsSync(first) && first !== target) fs.linkSync(first, target);
      else fs.copyFileSync(path.join(dir, f), target);
    }
  }
}

/** This machine's node: it must be an x86-64 Linux ELF, which is what the GPU machine runs. */
function copyNode(stage: string): string {
  const node = fs.realpathSync(process.execPath);
  const header = Buffer.alloc(20);
  const fd = fs.openSync(node, 'r');
  fs.readSync(fd, header, 0, 20, 0);
  fs.closeSync(fd);
  const elf = header.subarray(0, 4).toString('latin1') === '\x7fELF';
  if (!elf || header.readUInt16LE(18) !== 0x3e)
    throw new Error(`${node} is not an x86-64 Linux executable; pack on an x86-64 Linux machine`);
  const to = path.join(stage, 'node/bin/node');
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(node, to);
  fs.chmodSync(to, 0o755);
  return node;
}

/** Debian's amd64 packages, downloaded with apt (or copied from --debs-from). */
function collectDebs(stage: string): string[] {
  const to = path.join(stage, 'gl');
  fs.mkdirSync(to, { recursive: true });
  if (args['no-debs']) return [];
  if (args['debs-from'] !== undefined) {
    const from = path.resolve(args['debs-from']);
    for (const f of fs.readdirSync(from).filter((n) => n.endsWith('.deb')))
      fs.copyFileSync(path.join(from, f), path.join(to, f));
  } else {
    const lists = path.join(os.tmpdir(), 'mmim-gpu-check-apt');
    fs.mkdirSync(path.join(lists, 'partial'), { recursive: true });
    const o = [
      '-qq',
      '-oAPT::Architecture=amd64',
      '-oAPT::Architectures=amd64',
      // apt's _apt user cannot write into a root-owned temp dir: download as the caller.
      '-oAPT::Sandbox::User=root',
      `-oDir::State::Lists=${lists}`,
    ];
    run('apt-get', [...o, 'update']);
    run('apt-get', [...o, 'download', ...DEBS], { cwd: to });
  }
  return fs
    .readdirSync(to)
    .filter((n) => n.endsWith('.deb'))
    .sort();
}

/** xz at level $2 from stdin to stdout; Python's lzma where xz-utils is not installed. */
const XZ =
  spawnSync('xz', ['--version'], { stdio: 'ignore' }).status === 0
    ? 'xz -"$2" -T1 -c'
    : `python3 -c 'import lzma, shutil, sys
with lzma.open(sys.stdout.buffer, "wb", preset=int(sys.argv[1])) as f:
    shutil.copyfileobj(sys.stdin.buffer, f, 1 << 20)' "$2"`;

function dirBytes(dir: string): number {
  let total = 0;
  const seen = new Set<number>();
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const st = fs.statSync(path.join(e.parentPath, e.name));
    if (seen.has(st.ino)) continue;
    seen.add(st.ino);
    total += st.size;
  }
  return total;
}

/** The bytes of what the device tool sends besides dist: tracked and untracked-not-ignored files. */
function workingTreeBytes(): number {
  const files = run('git', ['ls-files', '-z', '-c', '-o', '--exclude-standard'], { cwd: ROOT })
    .split('\0')
    .filter((f) => f.length > 0);
  let total = 0;
  for (const f of new Set(files)) {
    try {
      total += fs.lstatSync(path.join(ROOT, f)).size;
    } catch {
      // deleted in the working tree
    }
  }
  return total;
}

function gitCommit(): { commit: string; dirty: boolean } {
  try {
    const commit = run('git', ['rev-parse', 'HEAD'], { cwd: ROOT }).trim();
    const dirty =
      run('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT }) !== '';
    return { commit, dirty };
  } catch {
    return { commit: 'unknown', dirty: true };
  }
}

async function main(): Promise<void> {
  const out = path.resolve(args.out);
  const level = Number(args['xz-level']);
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new Error('--xz-level is 0..9');
  if (
    fs.existsSync(out) &&
    fs.readdirSync(out).length > 0 &&
    !fs.existsSync(path.join(out, 'MANIFEST.json'))
  )
    throw new Error(`${out} exists and is not a gpu-check pack; refusing to replace it`);
  const t0 = performance.now();
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'gpu-check-stage-'));
  try {
    const app = path.join(stage, 'app');
    const bundled = new Set<string>();
    const entries: { source: string; bundle: string; bytes: number }[] = [];
    for (const entry of ENTRIES) {
      const { bytes, packages } = await bundle(entry, app);
      for (const p of packages) bundled.add(p);
      entries.push({ source: entry, bundle: `app/${entry.replace(/\.ts$/, '.mjs')}`, bytes });
      console.log(`bundle  ${entry.padEnd(32)} ${MiB(bytes)}`);
    }
    for (const asset of ASSETS)
      fs.cpSync(path.join(ROOT, asset), path.join(app, asset), { recursive: true });
    copyWasm(app);
    const webgpuVersion = copyWebGpu(app);
    writeStubs(app, bundled);
    const node = copyNode(stage);
    const debs = collectDebs(stage);
    console.log(
      `node    ${node} ${process.version}; debs: ${debs.length > 0 ? debs.join(' ') : 'none'}`,
    );

    const version = (pkg: string): string =>
      (
        JSON.parse(
          fs.readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8'),
        ) as {
          version: string;
        }
      ).version;
    const manifest = {
      packed: new Date().toISOString(),
      ...gitCommit(),
      node: process.version,
      packages: {
        webgpu: webgpuVersion,
        '@tensorflow/tfjs-core': version('@tensorflow/tfjs-core'),
        '@tensorflow/tfjs-backend-webgpu': version('@tensorflow/tfjs-backend-webgpu'),
        '@tensorflow/tfjs-backend-wasm': version('@tensorflow/tfjs-backend-wasm'),
        esbuild: version('esbuild'),
      },
      entries,
      assets: ASSETS,
      debs,
      xzLevel: level,
      unpackedBytes: dirBytes(stage),
    };
    fs.writeFileSync(path.join(stage, 'MANIFEST.json'), `${JSON.stringify(manifest, null, 2)}\n`);

    const tmpOut = `${out}.tmp-${process.pid}`;
    fs.rmSync(tmpOut, { recursive: true, force: true });
    fs.mkdirSync(tmpOut, { recursive: true });
    const payload = path.join(tmpOut, 'payload.tar.xz');
    console.log(`xz -${level} of ${MiB(manifest.unpackedBytes)}...`);
    execFileSync('bash', [
      '-c',
      `set -o pipefail; tar -C "$1" --owner=0 --group=0 --numeric-owner -cf - . | ${XZ} > "$3"`,
      'pack',
      stage,
      String(level),
      payload,
    ]);
    fs.copyFileSync(path.join(stage, 'MANIFEST.json'), path.join(tmpOut, 'MANIFEST.json'));
    fs.rmSync(out, { recursive: true, force: true });
    fs.renameSync(tmpOut, out);

    const distBytes = dirBytes(out);
    const treeBytes = workingTreeBytes();
    console.log(
      `packed  ${path.relative(process.cwd(), out) || out}: ${MiB(distBytes)} ` +
        `(payload.tar.xz ${MiB(fs.statSync(path.join(out, 'payload.tar.xz')).size)}, unpacks to ` +
        `${MiB(manifest.unpackedBytes)}); with the working tree (${MiB(treeBytes)}): ` +
        `${MiB(distBytes + treeBytes)} of the device tool's 64 MiB; ` +
        `${((performance.now() - t0) / 1000).toFixed(0)} s`,
    );
    if (distBytes > MAX_DIST_BYTES)
      throw new Error(`the pack is ${MiB(distBytes)}, over the ${MiB(MAX_DIST_BYTES)} it may take`);
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
