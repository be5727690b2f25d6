// Compiles the `mmim` command line into JavaScript (apps/cli/dist/) so that it answers at once:
// `mmim --help` and the commands that only talk to the coordinator's API (`mmim sweep ...`,
// `mmim trial ...`) then run without tsx compiling TypeScript at start. `npm install` and
// `npm ci` run it (the root package.json's `prepare`); nothing else needs to.
//
// What is compiled: src/main.ts, bundled with what it and the API commands import from the
// workspace. Packages from node_modules stay imports (external). The commands that train, start
// processes or load TF.js (HEAVY_COMMANDS) are not compiled: they locate files beside their own
// sources (Lua scripts, .proto files, the worker's thread entry), so the compiled main.ts loads
// them from src/ through tsx when one of them runs (src/ts-loader.ts); their start is dominated
// by TF.js anyway.
//
// dist/manifest.json records the sha256 of every source file compiled in. bin/mmim.js runs the
// compiled entry only while each of them is unchanged (bin/compiled-entry.js); after an edit
// it runs the sources, so a stale build is never run and an edit needs no rebuild step.
//
// Run: `node apps/cli/scripts/build.mjs [outDir]`. Exits 0 with a one-line warning when it
// cannot build (e.g. an image installing dependencies before its sources are copied in):
// `mmim` then runs from the sources, as it always could.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sourceDigest } from '../bin/compiled-entry.js';

const APP_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPO_ROOT = resolve(APP_DIR, '../..');
export const SRC_DIR = join(APP_DIR, 'src');
export const DEFAULT_OUT_DIR = join(APP_DIR, 'dist');
export const MANIFEST = 'manifest.json';

/** Commands under src/commands/ loaded from their sources, not compiled (see the header). */
export const HEAVY_COMMANDS = ['train', 'train-data', 'cluster', 'roles', 'data', 'eval', 'export'];

/**
 * Builds into `outDir` and writes its manifest. Throws when a compiled source refers to
 * `import.meta` (its location would be the bundle's, not its own).
 * @param {string} [outDir]
 * @returns {Promise<{ outDir: string, inputs: string[], bytes: number }>}
 */
export async function build(outDir = DEFAULT_OUT_DIR) {
  const esbuild = await import('esbuild');
  const out = resolve(outDir);
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  const main = join(SRC_DIR, 'main.ts');
  const result = await esbuild.build({
    entryPoints: [main],
    outdir: out,
    bundle: true,
    // Each lazily imported command its own chunk: `mmim --help` parses main.js alone.
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
    // src/ts-loader.ts: this build's heavy commands are TypeScript, imported through tsx.
    define: { __MMIM_CLI_COMPILED__: 'true' },
    plugins: [
      {
        name: 'mmim-cli',
        setup(b) {
          // main.ts's heavy commands: an import of their source, relative to the bundle.
          b.onResolve({ filter: /^\.\/commands\/[a-z-]+\.js$/ }, (args) => {
            const name = args.path.slice('./commands/'.length, -'.js'.length);
            if (args.importer !== main || !HEAVY_COMMANDS.includes(name)) return undefined;
            const source = join(SRC_DIR, 'commands', `${name}.ts`);
            return { path: toImportPath(relative(out, source)), external: true };
          });
          // node_modules stay external; the workspace's own packages are compiled in.
          b.onResolve({ filter: /^[^./]/ }, (args) =>
            args.path.startsWith('@mmim/') ? undefined : { external: true, sideEffects: false },
          );
          // Nothing compiled in runs for its side effects (no module registers itself on
          // import), so what a command does not use is dropped: `mmim sweep ls` imports the
          // metric table from @mmim/experiments, not its Redis store, S3 client or ioredis.
          b.onResolve({ filter: /.*/ }, async (args) => {
            if (args.pluginData === 'mmim-cli' || args.kind === 'entry-point') return undefined;
            const resolved = await b.resolve(args.path, {
              kind: args.kind,
              importer: args.importer,
              resolveDir: args.resolveDir,
              pluginData: 'mmim-cli',
            });
            if (resolved.errors.length > 0) return { errors: resolved.errors };
            return { ...resolved, sideEffects: false };
          });
        },
      },
    ],
  });
  const inputs = Object.keys(result.metafile.inputs)
    .map((p) => resolve(REPO_ROOT, p))
    .filter((p) => !p.startsWith(out));
  const sources = {};
  for (const file of inputs) {
    const text = await readFile(file);
    if (text.includes('import.meta'))
      throw new Error(
        `${relative(REPO_ROOT, file)} uses import.meta and would be compiled into the CLI's bundle, ` +
          `where it would locate files beside the bundle: load it from a heavy command ` +
          `(apps/cli/scripts/build.mjs HEAVY_COMMANDS) instead`,
      );
    sources[toImportPath(relative(out, file))] = sourceDigest(text);
  }
  await writeFile(
    join(out, MANIFEST),
    `${JSON.stringify({ entry: './main.js', sources }, null, 2)}\n`,
  );
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  return { outDir: out, inputs, bytes };
}

/** A relative path as an import specifier (always ./ or ../, forward slashes). */
function toImportPath(p) {
  const s = p.split('\\').join('/');
  return s.startsWith('.') ? s : `./${s}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const outDir = process.argv[2] ?? DEFAULT_OUT_DIR;
  if (!existsSync(join(SRC_DIR, 'main.ts'))) {
    console.warn(`mmim: ${relative(process.cwd(), SRC_DIR)}/main.ts not found; CLI not compiled`);
    process.exit(0);
  }
  try {
    const { outDir: written, inputs } = await build(outDir);
    console.log(
      `mmim: compiled the CLI into ${relative(process.cwd(), written) || '.'} (${inputs.length} sources)`,
    );
  } catch (err) {
    // The sources still run: a failed build must not fail `npm install`.
    await rm(resolve(outDir), { recursive: true, force: true });
    console.warn(
      `mmim: the CLI was not compiled (it runs from its TypeScript sources): ${err?.stack ?? err}`,
    );
  }
}
