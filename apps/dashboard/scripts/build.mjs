// Bundles the dashboard's browser code (src/ui) with esbuild's JS API into dist/: index.html,
// app.js, app.css and favicon.svg. Static files only: the coordinator serves them under
// `Content-Security-Policy: default-src 'self'`, so index.html links its script and style and
// holds nothing inline.
//
// Run: `node apps/dashboard/scripts/build.mjs [outDir]`. `buildDashboard()` in src/main.ts
// imports this module and calls `build()`, so there is one build recipe.
import { copyFile, mkdir, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const APP_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const UI_DIR = join(APP_DIR, 'src', 'ui');
export const DEFAULT_OUT_DIR = join(APP_DIR, 'dist');

/**
 * Builds into `outDir` (default apps/dashboard/dist) and returns the absolute directory and
 * the size in bytes of each file written.
 * @param {string} [outDir]
 * @param {{ minify?: boolean }} [options]
 * @returns {Promise<{ outDir: string, bytes: Record<string, number> }>}
 */
export async function build(outDir = DEFAULT_OUT_DIR, options = {}) {
  const out = resolve(outDir);
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  await esbuild.build({
    // app.ts imports app.css, so esbuild writes app.css beside app.js.
    entryPoints: { app: join(UI_DIR, 'app.ts') },
    outdir: out,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: options.minify ?? true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    // ECharts guards its dev-only checks with process.env.NODE_ENV; drop them from the bundle.
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  for (const f of ['index.html', 'favicon.svg']) await copyFile(join(UI_DIR, f), join(out, f));
  const bytes = {};
  for (const f of ['index.html', 'app.js', 'app.css', 'favicon.svg'])
    bytes[f] = (await stat(join(out, f))).size;
  return { outDir: out, bytes };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { outDir, bytes } = await build(process.argv[2]);
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  console.log(
    `dashboard built in ${outDir}: ` +
      Object.entries(bytes)
        .map(([f, n]) => `${f} ${kib(n)}`)
        .join(', '),
  );
}
