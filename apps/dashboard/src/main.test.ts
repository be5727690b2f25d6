import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildDashboard, DASHBOARD_FILES, dashboardIsStale, ensureDashboard } from './main.js';

const UI_DIR = join(dirname(fileURLToPath(import.meta.url)), 'ui');

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('buildDashboard', () => {
  let dir: string;
  before(async () => {
    dir = await buildDashboard(await mkdtemp(join(tmpdir(), 'mmim-dashboard-build-')));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes the static files, with a bundle that carries only the ECharts parts it uses', async () => {
    assert.deepEqual((await readdir(dir)).sort(), [...DASHBOARD_FILES].sort());
    const js = (await stat(join(dir, 'app.js'))).size;
    // The whole of ECharts minified is about 1 MB; the parts we register come to ~630 KB.
    assert.ok(js > 100_000 && js < 800_000, `app.js is ${js} bytes`);
    assert.ok((await stat(join(dir, 'app.css'))).size > 1000);
  });

  it('ships an index.html that works under default-src self (nothing inline)', async () => {
    const html = await readFile(join(dir, 'index.html'), 'utf8');
    assert.match(html, /<script type="module" src="app\.js"><\/script>/);
    assert.match(html, /<link rel="stylesheet" href="app\.css" \/>/);
    assert.doesNotMatch(
      html,
      /<style|style=|<script>|<script(?![^>]*\ssrc=)[^>]*>|\son[a-z]+=|javascript:/i,
    );
  });

  it('never builds DOM from HTML strings in the browser code', async () => {
    const offenders: string[] = [];
    for (const p of await sources(UI_DIR)) {
      if (p.endsWith('.test.ts')) continue;
      const src = await readFile(p, 'utf8');
      if (
        /\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(/.test(
          src,
        )
      ) {
        offenders.push(p);
      }
    }
    assert.deepEqual(offenders, []);
  });

  it('knows when dist is missing or older than the sources, and rebuilds then', async () => {
    assert.equal(await dashboardIsStale(dir), false);
    await utimes(join(dir, 'app.js'), new Date(0), new Date(0));
    assert.equal(await dashboardIsStale(dir), true);
    assert.equal(await ensureDashboard(dir), dir);
    assert.equal(await dashboardIsStale(dir), false);
    await rm(join(dir, 'app.css'));
    assert.equal(await dashboardIsStale(dir), true);
    const empty = await mkdtemp(join(tmpdir(), 'mmim-dashboard-empty-'));
    try {
      assert.equal(await dashboardIsStale(empty), true);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
