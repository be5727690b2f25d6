/**
 * @mmim/dashboard — the web page the coordinator serves: a single-page app (src/ui, plain
 * TypeScript + DOM, ECharts for the charts) bundled by esbuild into static files.
 *
 *   import { DASHBOARD_DIST, ensureDashboard } from '@mmim/dashboard';
 *   const dir = await ensureDashboard(); // builds when dist/ is missing or older than src/ui
 *   // serve DASHBOARD_FILES from dir (index.html at /)
 *
 * Only this Node entry is imported by other projects; src/ui is browser code that only the
 * bundler reads.
 */
import { readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const APP_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const UI_DIR = join(APP_DIR, 'src', 'ui');
const BUILD_SCRIPT = join(APP_DIR, 'scripts', 'build.mjs');

/** Where `buildDashboard()` writes by default (apps/dashboard/dist, git-ignored). */
export const DASHBOARD_DIST = join(APP_DIR, 'dist');

/** The files a built dashboard holds; the coordinator serves exactly these. */
export const DASHBOARD_FILES = ['index.html', 'app.js', 'app.css', 'favicon.svg'] as const;

interface BuildModule {
  build(
    outDir?: string,
    options?: { minify?: boolean },
  ): Promise<{ outDir: string; bytes: Record<string, number> }>;
}

/**
 * Bundles src/ui into `outDir` (default DASHBOARD_DIST) with scripts/build.mjs and returns the
 * absolute directory. esbuild is loaded only here, so importing this module costs nothing.
 */
export async function buildDashboard(outDir: string = DASHBOARD_DIST): Promise<string> {
  // The script is plain JS (runnable with `node` alone); load it by URL at run time.
  const mod = (await import(pathToFileURL(BUILD_SCRIPT).href)) as BuildModule;
  const { outDir: dir } = await mod.build(outDir);
  return dir;
}

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, await newestMtime(p));
    else if (!entry.name.endsWith('.test.ts')) newest = Math.max(newest, (await stat(p)).mtimeMs);
  }
  return newest;
}

/**
 * True when `outDir` lacks one of the dashboard's files or one of them is older than a source
 * under src/ui (or the build script). Without sources (a packaged install) a complete dist is
 * never stale.
 */
export async function dashboardIsStale(outDir: string = DASHBOARD_DIST): Promise<boolean> {
  let oldestOut = Infinity;
  for (const f of DASHBOARD_FILES) {
    try {
      oldestOut = Math.min(oldestOut, (await stat(join(outDir, f))).mtimeMs);
    } catch {
      return true;
    }
  }
  let newestSrc = 0;
  try {
    newestSrc = Math.max(await newestMtime(UI_DIR), (await stat(BUILD_SCRIPT)).mtimeMs);
  } catch {
    return false;
  }
  return newestSrc > oldestOut;
}

/** Builds when missing or stale (see dashboardIsStale); returns the directory to serve. */
export async function ensureDashboard(outDir: string = DASHBOARD_DIST): Promise<string> {
  return (await dashboardIsStale(outDir)) ? buildDashboard(outDir) : resolve(outDir);
}
