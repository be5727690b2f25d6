/**
 * Issue 7's acceptance run in the browser: a local cluster of real processes (redis-server, the
 * coordinator serving the dashboard, 2 workers on the wasm backend) runs a small sweep while
 * Debian's chromium watches. Without any reload the page shows the new sweep, its trials
 * starting, and a running trial's loss curve growing from the workers' step points; the
 * workers page lists both workers; pause is refused without the admin token (the API's 401
 * text is shown, the sweep keeps running) and works with it. Screenshots of every step:
 * test-output/dashboard/live-*.png.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalCluster } from '@mmim/cli';
import type { Page } from 'playwright-core';
import type { SweepRecord, TrialRecord } from '@mmim/experiments';
import { until } from '../cluster/helpers.js';
import {
  markPage,
  openBrowser,
  stayed,
  unexpectedErrors,
  waitFor,
  type BrowserSession,
} from './browser.js';

const SWEEP_YAML = `
name: dashboard-live
data: {synthetic: mosi, train: 32, valid: 16, test: 16, seed: 7}
method: grid
metric: {name: valid.mae, goal: minimize}
parameters:
  lr_main: {values: [0.001, 0.003]}
seeds: [1111]
workers_per_trial: 1
run_cap: 2
trainer: {num_epochs: 3, batch_size: 16}
`;

/** Waits until the chart `testid` plots more than `than` points; returns how many it plots. */
async function pointsAbove(page: Page, testid: string, than: number): Promise<number> {
  const chart = page.locator(`[data-testid="${testid}"]`);
  return waitFor(
    `${testid} to plot more than ${than} points`,
    async () => {
      const n = Number((await chart.count()) ? await chart.getAttribute('data-points') : -1);
      return n > than ? n : null;
    },
    120_000,
  );
}

describe('the dashboard follows a live sweep on a local cluster', { timeout: 300_000 }, () => {
  const runDir = mkdtempSync(join(tmpdir(), 'mmim-dashboard-live-'));
  let cluster: LocalCluster;
  let b: BrowserSession;
  let sweep: SweepRecord;

  before(async () => {
    [cluster, b] = await Promise.all([
      LocalCluster.start({
        workers: 2,
        runDir,
        httpPort: 0,
        backend: 'wasm',
        env: { MMIM_LOG_LEVEL: 'info' },
      }),
      openBrowser(),
    ]);
    await until('both workers to join', 60_000, async () => {
      const { workers } = await cluster.api.workers();
      return workers.filter((w) => w.state !== 'lost').length === 2;
    });
  });

  after(async () => {
    await b?.browser.close();
    await cluster?.stop();
    rmSync(runDir, { recursive: true, force: true });
  });

  it('shows a sweep created while the page is open, without reloading', async () => {
    const { page } = b;
    await page.goto(`${cluster.httpUrl}/#/`);
    await page.locator('[data-testid="live-status"][data-state="open"]').waitFor();
    await page.getByText('No sweeps yet.').waitFor();
    await markPage(page);
    ({ sweep } = await cluster.api.createSweep(SWEEP_YAML));
    const row = page.locator(`[data-testid="sweep-row"][data-sweep-id="${sweep.id}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), /dashboard-live[\s\S]*running/);
    await b.shot('live-1-sweeps');
  });

  it('opens the sweep and sees its trials start, without reloading', async () => {
    const { page } = b;
    await page.locator('a', { hasText: 'dashboard-live' }).click();
    await page.waitForURL(new RegExp(`#/sweeps/${sweep.id}$`));
    const rows = page.locator('[data-testid="trial-row"]');
    await rows.nth(1).waitFor();
    assert.equal(await rows.count(), 2, 'two grid configs x one seed');
    // The workers pick the trials up; the rows change state as they do.
    await rows.filter({ hasText: 'running' }).first().waitFor({ timeout: 60_000 });
    assert.equal(await stayed(page), true, 'the page was reloaded');
    await b.shot('live-2-sweep');
  });

  it('opens a running trial and sees its loss curve grow, without reloading', async () => {
    const { page } = b;
    const running: TrialRecord = await until('a running trial', 60_000, async () => {
      const { trials } = await cluster.api.trialsOf(sweep.id);
      return trials.find((t) => t.state === 'running');
    });
    await page
      .locator(`[data-testid="trial-row"][data-trial-id="${running.id}"] a`)
      .first()
      .click();
    await page.waitForURL(new RegExp(`#/trials/${running.id}$`));
    const first = await pointsAbove(page, 'curve-train/loss', 0);
    await b.shot('live-3-trial-first-points');
    const later = await pointsAbove(page, 'curve-train/loss', first);
    assert.ok(later > first, `train/loss had ${first} points, then ${later}`);
    assert.equal(await stayed(page), true, 'the page was reloaded');
    await b.shot('live-4-trial-grown');
  });

  it('lists both workers on the workers page', async () => {
    const { page } = b;
    await page.locator('nav a', { hasText: 'Workers' }).click();
    const rows = page.locator('[data-testid="worker-row"]');
    await rows.nth(1).waitFor();
    assert.equal(await rows.count(), 2);
    const text = (await rows.allInnerTexts()).join('\n');
    assert.match(text, /local-0/);
    assert.match(text, /local-1/);
    assert.match(text, /wasm/);
    await b.shot('live-5-workers');
  });

  it('refuses pause without the admin token, then pauses with it', async () => {
    const { page } = b;
    await page.goto(`${cluster.httpUrl}/#/sweeps/${sweep.id}`);
    await page.locator('[data-testid="sweep-pause"]:not([disabled])').click();
    await page.locator('[data-testid="token-dialog"]').waitFor();
    await page.locator('[data-testid="token-ok"]').click(); // empty: sent without a token
    const status = page.locator('[data-testid="action-status"]');
    await status.filter({ hasText: 'HTTP 401' }).waitFor();
    assert.match(await status.innerText(), /Could not pause: .*admin token/i);
    assert.equal((await cluster.api.sweep(sweep.id)).sweep.state, 'running');
    await b.shot('live-6-pause-refused', false);

    await page.locator('[data-testid="sweep-pause"]').click();
    await page.locator('[data-testid="token-input"]').fill(cluster.adminToken);
    await page.locator('[data-testid="token-ok"]').click();
    await status.filter({ hasText: 'Sweep is paused.' }).waitFor();
    assert.equal((await cluster.api.sweep(sweep.id)).sweep.state, 'paused');
    await page.locator('[data-testid="sweep-resume"]:not([disabled])').waitFor();
    await b.shot('live-7-paused');
  });

  it('ran without page errors or CSP violations', () => {
    assert.deepEqual(unexpectedErrors(b.errors), []);
  });
});
