/**
 * The dashboard's pages in Debian's chromium (playwright-core) against the real coordinator:
 * a local cluster without workers (redis-server and the coordinator as child processes, the
 * coordinator serving the built dashboard). The test writes the records the scenarios need
 * straight into the experiment store on that Redis (its writes publish the change events the
 * page listens to), and creates one sweep through the API so pause/resume go through the
 * coordinator's real sweep controller (with no workers its trials stay queued).
 *
 * Checks: sweeps list (rows, progress, escaped names), trials table sort and filter, pause
 * without the token (401 text) and with it, a stale pause (409 text), a curve growing on live
 * points without a reload and catching up after a coordinator restart dropped the stream, a
 * queued lone trial cancelled from its page (the button only on lone trials), the workers page
 * (empty, then three workers registered over gRPC: a webgpu worker on a hardware adapter, one
 * on llvmpipe, one on wasm, each shown with or without its adapter), and no page error or CSP
 * report. Screenshots: test-output/dashboard/ui-*.png.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { LocalCluster } from '@mmim/cli';
import {
  CLIENT_CHANNEL_OPTIONS,
  deadlineIn,
  JOIN_TOKEN_METADATA_KEY,
  loadProtocol,
  UNARY_DEADLINES_MS,
  type RegisterResponse__Output,
} from '@mmim/protocol';
import type { BackendInfo } from '@mmim/runtime';
import { workerCapabilities } from '@mmim/worker';
import { ExperimentStore, type SweepRecord, type TrialState } from '@mmim/experiments';
import { fixtureEpoch, fixtureSweep, fixtureTrial } from '@mmim/experiments/testing';
import {
  markPage,
  openBrowser,
  stayed,
  unexpectedErrors,
  waitForCount,
  type BrowserSession,
} from './browser.js';

const CURVES = ['train/loss', 'train/nce', 'train/lld', 'train/H', 'lr/main'];
const MARKUP = '<img src=x onerror=alert(1)>';
const TABLE_SWEEP = 'table-sweep';
const TABLE_T0 = Date.now() - 3_600_000;

/** A real sweep file: synthetic data, two grid configs; never trained here (no workers). */
const SWEEP_YAML = `
name: "${MARKUP}"
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

/**
 * The table's sweep, written by the test: 12 trials in every state, best values out of
 * creation order (0.70 + ((n*7) % 12)/100 for trials that ran) so sorting shows.
 */
async function writeTableSweep(store: ExperimentStore): Promise<void> {
  await store.putSweep(
    fixtureSweep({
      id: TABLE_SWEEP,
      name: 'lr-dropout',
      createdAt: TABLE_T0,
      updatedAt: TABLE_T0,
      runCap: 6,
      seeds: [1, 2],
      workersPerTrial: 2,
      best: { configKey: 'c3', value: 0.71, trialIds: ['t3', 't4'] },
    }),
  );
  const states: TrialState[] = ['completed', 'completed', 'pruned', 'running', 'running', 'queued'];
  for (let n = 0; n < 12; n++) {
    const state = states[n % states.length] ?? 'queued';
    const ran = state !== 'queued';
    const bestValue = ran ? 0.7 + ((n * 7) % 12) / 100 : null;
    await store.putTrial(
      fixtureTrial({
        id: `t${n}`,
        sweepId: TABLE_SWEEP,
        number: n,
        configKey: `c${Math.floor(n / 2)}`,
        params: {
          lr: 1e-4 * (1 + (n % 5)),
          dropout: 0.1 * (n % 3),
          optimizer: n % 2 ? 'adam' : 'sgd',
        },
        seed: 1 + (n % 2),
        state,
        createdAt: TABLE_T0 + n * 1000,
        startedAt: ran ? TABLE_T0 + n * 1000 + 500 : null,
        endedAt: state === 'completed' || state === 'pruned' ? TABLE_T0 + n * 1000 + 60_000 : null,
        epochs: ran ? 3 : 0,
        lastValue: bestValue === null ? null : bestValue + 0.01,
        bestValue,
        bestEpoch: ran ? 2 : null,
        workersPerTrial: 2,
        placement: ran
          ? [
              { rank: 0, workerId: 'w0', workerName: 'gpu-0' },
              { rank: 1, workerId: 'w1', workerName: 'gpu-1' },
            ]
          : [],
        attempts: ran ? 1 : 0,
      }),
    );
  }
  // t3's epochs: valid MAE 0.85, 0.79, 0.80 (its best stays 0.79, its rank in the sort).
  for (const [e, mae] of [0.85, 0.79, 0.8].entries()) {
    await store.addEpoch('t3', fixtureEpoch(e + 1, mae), { name: 'valid.mae', goal: 'minimize' });
  }
  await store.addEvent('t3', { at: TABLE_T0 + 3500, type: 'started', message: 'on gpu-0, gpu-1' });
}

/** What initBackend returns on the machines the workers page must tell apart. */
const H200: BackendInfo = {
  name: 'webgpu',
  package: '@tensorflow/tfjs-backend-webgpu',
  device: 'GPU (WebGPU/Vulkan): NVIDIA H200',
  threads: 1,
  adapter: {
    vendor: 'nvidia',
    architecture: 'hopper',
    device: 'NVIDIA H200',
    description: 'NVIDIA: 565.57.01',
    route: 'vulkan',
    software: false,
    limits: {
      maxBufferSize: 2 ** 40,
      maxStorageBufferBindingSize: 2 ** 32 - 4,
      maxComputeWorkgroupStorageSize: 49152,
      maxComputeInvocationsPerWorkgroup: 1024,
    },
  },
};
const LLVMPIPE: BackendInfo = {
  name: 'webgpu',
  package: '@tensorflow/tfjs-backend-webgpu',
  device: 'CPU rasteriser (WebGPU/OpenGL ES): llvmpipe-llvm-15-0-6-256-bits-',
  threads: 1,
  adapter: {
    vendor: '',
    architecture: '',
    device: 'llvmpipe-llvm-15-0-6-256-bits-',
    description: 'OpenGL version OpenGL ES 3.2 Mesa 22.3.6',
    route: 'opengles',
    software: true,
    limits: {
      maxBufferSize: 2 ** 31,
      maxStorageBufferBindingSize: 2 ** 27,
      maxComputeWorkgroupStorageSize: 16384,
      maxComputeInvocationsPerWorkgroup: 256,
    },
  },
};
const WASM: BackendInfo = {
  name: 'wasm',
  package: '@tensorflow/tfjs-backend-wasm',
  device: 'CPU (wasm, SIMD, 1 thread)',
  threads: 1,
};

/**
 * Registers a worker with the capabilities the worker process would send for `backend` (the
 * worker's own builder), and nothing more: no Session, so the scheduler never gives it a trial.
 */
async function registerWorker(
  cluster: LocalCluster,
  workerName: string,
  backend: BackendInfo,
): Promise<string> {
  const { WorkerRegistry } = loadProtocol().mmim.v1;
  const client = new WorkerRegistry(
    cluster.grpcAddress,
    grpc.credentials.createInsecure(),
    CLIENT_CHANNEL_OPTIONS,
  );
  const metadata = new grpc.Metadata();
  metadata.set(JOIN_TOKEN_METADATA_KEY, readFileSync(cluster.joinTokenFile, 'utf8').trim());
  try {
    return await new Promise<string>((resolve, reject) =>
      client.Register(
        {
          capabilities: workerCapabilities(backend, {
            workerName,
            version: '0.1.0',
            memoryBytes: 2 ** 34,
          }),
        },
        metadata,
        { deadline: deadlineIn(UNARY_DEADLINES_MS.register) },
        (err: grpc.ServiceError | null, res?: RegisterResponse__Output) =>
          err || !res ? reject(err ?? new Error('no response')) : resolve(res.workerId),
      ),
    );
  } finally {
    client.close();
  }
}

/** Appends `count` points to each named curve of a trial (one `points` change event). */
async function addPoints(
  store: ExperimentStore,
  trialId: string,
  names: string[],
  count: number,
  from: Map<string, number>,
): Promise<void> {
  const points = [];
  for (const name of names) {
    const start = from.get(name) ?? 0;
    for (let step = start; step < start + count; step++) {
      points.push({
        name,
        step,
        value: 2 / (1 + step / 50) + 0.05 * Math.sin(step),
        at: Date.now(),
      });
    }
    from.set(name, start + count);
  }
  await store.appendPoints(trialId, points);
}

describe('dashboard in chromium against the real coordinator', { timeout: 180_000 }, () => {
  const runDir = mkdtempSync(join(tmpdir(), 'mmim-dashboard-ui-'));
  let cluster: LocalCluster;
  let redis: Redis;
  let store: ExperimentStore;
  let b: BrowserSession;
  let sweep: SweepRecord;
  let base: string;
  const steps = new Map<string, number>();

  before(async () => {
    cluster = await LocalCluster.start({
      workers: 0,
      runDir,
      // No httpPort: the cluster picks a free port once, so the restart below reuses it
      // (with httpPort 0 every coordinator start binds a new port).
      env: { MMIM_LOG_LEVEL: 'info' },
    });
    base = cluster.httpUrl;
    redis = new Redis(cluster.redisUrl);
    store = new ExperimentStore(redis);
    await writeTableSweep(store);
    await addPoints(store, 't3', CURVES, 50, steps);
    ({ sweep } = await cluster.api.createSweep(SWEEP_YAML));
    b = await openBrowser();
  });

  after(async () => {
    await b?.browser.close();
    redis?.disconnect();
    await cluster?.stop();
    rmSync(runDir, { recursive: true, force: true });
  });

  it('lists the sweeps with progress and escapes names', async () => {
    const { page } = b;
    await page.goto(`${base}/#/`);
    const rows = page.locator('[data-testid="sweep-row"]');
    await rows.nth(1).waitFor();
    assert.equal(await rows.count(), 2);
    assert.equal(await rows.first().getAttribute('data-sweep-id'), sweep.id); // newest first
    const table = page.locator(`[data-sweep-id="${TABLE_SWEEP}"]`);
    assert.match(
      await table.innerText(),
      /lr-dropout[\s\S]*running[\s\S]*4 done · 4 running · 2 queued · 2 pruned/,
    );
    assert.match(await table.innerText(), /0\.71/);
    // The markup in the API-created sweep's name is text, not an element.
    assert.equal(await page.locator('main img').count(), 0);
    assert.match(await rows.first().innerText(), /<img src=x onerror=alert\(1\)>[\s\S]*running/);
    assert.match(await rows.first().innerText(), /2 queued/);
    await page.locator('[data-testid="live-status"][data-state="open"]').waitFor();
    await b.shot('ui-sweeps');
  });

  it('sorts the trials table by clicking a header and filters by state and text', async () => {
    const { page } = b;
    await page.locator('a', { hasText: 'lr-dropout' }).click();
    await page.waitForURL(new RegExp(`#/sweeps/${TABLE_SWEEP}$`));
    const rows = page.locator('[data-testid="trial-row"]');
    await rows.nth(11).waitFor();
    assert.equal(await rows.first().getAttribute('data-number'), '0');
    const numbers = async (): Promise<string[]> =>
      rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-number') ?? ''));

    await page.locator('th[data-sort="bestValue"]').click();
    await page.locator('th[data-sort="bestValue"][aria-sort="ascending"]').waitFor();
    await page.locator('[data-testid="trial-row"]:first-child[data-number="0"]').waitFor();
    const asc = await numbers();
    assert.deepEqual(asc.slice(0, 3), ['0', '7', '2']);
    assert.deepEqual(asc.slice(-2).sort(), ['11', '5']); // queued: no value, last

    await page.locator('th[data-sort="bestValue"]').click();
    await page.locator('th[data-sort="bestValue"][aria-sort="descending"]').waitFor();
    await page.locator('[data-testid="trial-row"]:first-child[data-number="10"]').waitFor();
    assert.deepEqual((await numbers()).slice(0, 2), ['10', '3']); // 0.80 and 0.79, the worst

    await page.locator('[data-testid="filter-pruned"]').check();
    await waitForCount(rows, 2);
    assert.deepEqual((await numbers()).sort(), ['2', '8']);
    await page.locator('[data-testid="filter-pruned"]').uncheck();
    await page.locator('[data-testid="trial-filter"]').fill('"optimizer":"adam"');
    await waitForCount(rows, 6);
    assert.deepEqual(
      (await numbers()).map(Number).every((n) => n % 2 === 1),
      true,
    );
    await page.locator('[data-testid="trial-filter"]').fill('');
    await rows.nth(11).waitFor();
    assert.equal(
      await page.locator('[data-testid="parallel-chart"]').getAttribute('data-points'),
      '10',
    );
    assert.ok(await page.locator('[data-testid="parallel-chart"]').isVisible());
    await b.shot('ui-sweep');
  });

  it('refuses pause without the token (401 text shown), then pauses with it', async () => {
    const { page } = b;
    const api = cluster.api;
    await page.goto(`${base}/#/sweeps/${sweep.id}`);
    await page.locator('[data-testid="trial-row"]').nth(1).waitFor();
    // No trial has a metric yet: a sentence instead of empty charts.
    await page.getByText('No trial has a metric yet').waitFor();
    assert.equal(await page.locator('[data-testid="parallel-chart"]').isVisible(), false);
    await page.locator('[data-testid="sweep-pause"]:not([disabled])').click();
    await page.locator('[data-testid="token-dialog"]').waitFor();
    await page.locator('[data-testid="token-ok"]').click(); // empty: sent without a token
    const status = page.locator('[data-testid="action-status"]');
    await status.filter({ hasText: 'HTTP 401' }).waitFor();
    assert.match(await status.innerText(), /Could not pause: .*admin token/i);
    assert.equal((await api.sweep(sweep.id)).sweep.state, 'running');
    await b.shot('ui-pause-refused', false);

    await page.locator('[data-testid="sweep-pause"]').click();
    await page.locator('[data-testid="token-input"]').fill(cluster.adminToken);
    await page.locator('[data-testid="token-ok"]').click();
    await status.filter({ hasText: 'Sweep is paused.' }).waitFor();
    assert.equal((await api.sweep(sweep.id)).sweep.state, 'paused');
    // The token is kept for the tab: resume does not ask again.
    await page.locator('[data-testid="sweep-resume"]:not([disabled])').click();
    await status.filter({ hasText: 'Sweep is running.' }).waitFor();
    assert.equal(await page.locator('[data-testid="token-dialog"]').count(), 0);
    assert.equal((await api.sweep(sweep.id)).sweep.state, 'running');

    // Paused elsewhere, clicked before the page has refetched (it waits 1 s after the change
    // event): the controller's 409 text is shown, then the page shows the new state.
    await api.action(sweep.id, 'pause');
    await page.locator('[data-testid="sweep-pause"]').click({ timeout: 900 });
    await status.filter({ hasText: 'HTTP 409' }).waitFor();
    assert.match(
      await status.innerText(),
      new RegExp(`Could not pause: sweep ${sweep.id} is paused, not running`),
    );
    await page.locator('[data-testid="sweep-resume"]:not([disabled])').waitFor(); // state reloaded
    assert.equal(
      await page.locator('[data-testid="token-button"]').innerText(),
      'Forget admin token',
    );
    // The controller's sweep events arrive with the next refresh, newest first.
    await page.locator('ul.events li', { hasText: 'paused: no new trials start' }).nth(1).waitFor();
    assert.match(await page.locator('ul.events li').first().innerText(), /paused/);
    assert.match(await page.locator('ul.events').innerText(), /resumed/);
    await b.shot('ui-pause-409', false);
  });

  it('cancels a queued lone trial from its page (button shown for lone trials only)', async () => {
    const { page } = b;
    // No workers: the trial stays queued until cancelled.
    const { trial } = await cluster.api.createTrial({
      data: { kind: 'synthetic', dataset: 'mosi', train: 8, valid: 4, test: 4 },
      trainer: { num_epochs: 1 },
      seed: 1,
      workers: 1,
      name: 'ui-cancel',
    });
    await page.goto(`${base}/#/trials/${encodeURIComponent('t3')}`);
    await page.locator('[data-testid="trial-epochs"]').waitFor();
    assert.equal(await page.locator('[data-testid="trial-cancel"]').isVisible(), false);
    await page.goto(`${base}/#/trials/${encodeURIComponent(trial.id)}`);
    const button = page.locator('[data-testid="trial-cancel"]');
    await button.waitFor({ state: 'visible' });
    page.once('dialog', (d) => void d.accept());
    await button.click();
    // The token from the pause test is kept for the tab.
    const status = page.locator('[data-testid="action-status"]');
    await status.filter({ hasText: 'Trial is cancelled.' }).waitFor();
    assert.equal((await cluster.api.trial(trial.id)).trial.state, 'cancelled');
    await button.waitFor({ state: 'hidden' });
  });

  it('deletes an ended sweep from its page (the button disabled while it runs)', async () => {
    const { page } = b;
    const { sweep: doomed } = await cluster.api.createSweep(SWEEP_YAML);
    await page.goto(`${base}/#/sweeps/${doomed.id}`);
    await page.locator('[data-testid="trial-row"]').nth(1).waitFor(); // the page has loaded
    assert.equal(await page.locator('[data-testid="sweep-cancel"]').isDisabled(), false);
    assert.equal(await page.locator('[data-testid="sweep-delete"]').isDisabled(), true);
    await cluster.api.action(doomed.id, 'cancel');
    const button = page.locator('[data-testid="sweep-delete"]:not([disabled])');
    await button.waitFor(); // the page refetched the cancelled state
    page.once('dialog', (d) => void d.accept());
    await button.click();
    // The token from the pause test is kept for the tab.
    const status = page.locator('[data-testid="action-status"]');
    await status.filter({ hasText: 'Sweep deleted: 2 trials' }).waitFor();
    await assert.rejects(cluster.api.sweep(doomed.id), /404/);
    await page
      .locator('[data-testid="action-status"] a', { hasText: 'Back to the sweeps' })
      .click();
    await page.waitForURL(/#\/sweeps$/);
    await page.locator(`[data-sweep-id="${sweep.id}"]`).waitFor();
    assert.equal(await page.locator(`[data-sweep-id="${doomed.id}"]`).count(), 0);
  });

  it('grows a trial curve on live points without reloading, and catches up after a drop', async () => {
    const { page } = b;
    const curveRequests: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/api/trials/t3/curves')) curveRequests.push(r.url());
    });
    await page.goto(`${base}/#/trials/t3`);
    await page.locator('[data-testid="curve-train/loss"][data-points="50"]').waitFor();
    for (const name of CURVES) {
      assert.equal(
        await page.locator(`[data-testid="curve-${name}"]`).getAttribute('data-points'),
        '50',
        name,
      );
    }
    assert.equal(
      await page.locator('[data-testid="curve-epoch/mae"]').getAttribute('data-points'),
      '6',
    );
    assert.equal(await page.locator('[data-testid="epoch-row"]').count(), 3);
    // Columns and formats come from the metric table (GET /api/metrics): Acc-2 as a percentage.
    const heads = await page.locator('[data-testid="epoch-table"] th').allInnerTexts();
    assert.ok(
      heads.includes('Valid Acc-2 (non0)') && heads.includes('Test Acc-7'),
      heads.join('|'),
    );
    const firstRow = await page
      .locator('[data-testid="epoch-row"]')
      .first()
      .locator('td')
      .allInnerTexts();
    assert.equal(firstRow[heads.indexOf('Valid Acc-2 (non0)')], '70.00');
    await page.locator('[data-testid="live-status"][data-state="open"]').waitFor();
    await markPage(page);
    const before = curveRequests.length;

    await addPoints(store, 't3', ['train/loss', 'lr/main'], 20, steps);
    await page.locator('[data-testid="curve-train/loss"][data-points="70"]').waitFor();
    await addPoints(store, 't3', ['train/loss'], 15, steps);
    await page.locator('[data-testid="curve-train/loss"][data-points="85"]').waitFor();
    await page.locator('[data-testid="curve-lr/main"][data-points="70"]').waitFor();
    assert.equal(
      await page.locator('[data-testid="curve-train/nce"]').getAttribute('data-points'),
      '50',
    );
    assert.equal(await stayed(page), true, 'the page was reloaded');
    // Only points after the cursor were asked for, never the whole curve again.
    const live = curveRequests.slice(before);
    assert.ok(
      live.length > 0 && live.every((u) => /[?&]after=\d+/.test(u)),
      `curve requests after the first load:\n${live.join('\n')}`,
    );

    // A coordinator restart drops the stream; points written meanwhile publish events that
    // nobody hears. After EventSource reconnects the page catches up from its cursor.
    b.expectNetErrors = true;
    cluster.coordinator?.proc.kill('SIGTERM');
    await cluster.coordinator?.exited;
    await page.locator('[data-testid="live-status"]:not([data-state="open"])').waitFor();
    await addPoints(store, 't3', ['train/nce'], 10, steps);
    await cluster.startCoordinator();
    await page
      .locator('[data-testid="live-status"][data-state="open"]')
      .waitFor({ timeout: 30_000 });
    await page.locator('[data-testid="curve-train/nce"][data-points="60"]').waitFor();
    b.expectNetErrors = false;
    assert.equal(await stayed(page), true, 'the page was reloaded');
    await b.shot('ui-trial');
  });

  it('shows the workers page: none joined, then each worker with its GPU adapter or none', async () => {
    const { page } = b;
    await page.locator('nav a', { hasText: 'Workers' }).click();
    await page.getByText('No workers have joined.').waitFor();
    const rows = page.locator('[data-testid="worker-row"]');
    assert.equal(await rows.count(), 0);

    // Registered over gRPC; the coordinator publishes its snapshot and the page follows it live.
    const ids = {
      h200: await registerWorker(cluster, 'gpu-h200', H200),
      llvmpipe: await registerWorker(cluster, 'ci-llvmpipe', LLVMPIPE),
      wasm: await registerWorker(cluster, 'cpu-wasm', WASM),
    };
    await waitForCount(rows, 3);
    const row = (id: string) => page.locator(`[data-testid="worker-row"][data-worker-id="${id}"]`);
    const adapterOf = (id: string) => row(id).locator('[data-testid="worker-adapter"]');

    const h200 = adapterOf(ids.h200);
    assert.equal(
      await h200.locator('[data-testid="adapter-name"]').innerText(),
      'nvidia · hopper · NVIDIA H200',
    );
    assert.equal(await h200.locator('[data-testid="adapter-route"]').innerText(), 'vulkan');
    assert.equal(await h200.locator('[data-testid="adapter-software"]').count(), 0);
    assert.equal(
      await h200.locator('[data-testid="adapter-limits"]').innerText(),
      'buffer 1 TiB · storage binding 4 GiB · workgroup memory 48 KiB · 1024 invocations/workgroup',
    );
    assert.equal(await h200.getAttribute('title'), 'NVIDIA: 565.57.01');
    assert.match(await row(ids.h200).innerText(), /gpu-h200[\s\S]*webgpu/);

    const soft = adapterOf(ids.llvmpipe);
    assert.equal(
      await soft.locator('[data-testid="adapter-name"]').innerText(),
      'llvmpipe-llvm-15-0-6-256-bits-',
    );
    assert.equal(await soft.locator('[data-testid="adapter-route"]').innerText(), 'opengles');
    const marker = soft.locator('[data-testid="adapter-software"]');
    assert.equal(await marker.innerText(), 'software');
    assert.ok(await marker.isVisible());
    // Styled apart from the plain route badge (app.css under the page's CSP).
    // (The test compiles without the DOM library: reach getComputedStyle through globalThis.)
    const background = (l: typeof marker): Promise<string> =>
      l.evaluate((e) => {
        const view = globalThis as unknown as {
          getComputedStyle(el: unknown): { backgroundColor: string };
        };
        return view.getComputedStyle(e).backgroundColor;
      });
    assert.notEqual(
      await background(marker),
      await background(soft.locator('[data-testid="adapter-route"]')),
    );
    assert.equal(
      await soft.locator('[data-testid="adapter-limits"]').innerText(),
      'buffer 2 GiB · storage binding 128 MiB · workgroup memory 16 KiB · 256 invocations/workgroup',
    );

    assert.equal(await adapterOf(ids.wasm).count(), 0);
    assert.equal(
      await row(ids.wasm).locator('[data-testid="worker-device"]').innerText(),
      'CPU (wasm, SIMD, 1 thread)',
    );
    const api = (await cluster.api.workers()).workers;
    assert.deepEqual(api.find((w) => w.id === ids.h200)?.adapter, H200.adapter);
    assert.equal(api.find((w) => w.id === ids.wasm)?.adapter, null);
    await b.shot('ui-workers');
  });

  it('shows a banner while Redis is too full to start trials, and hides it when there is room', async () => {
    const { page } = b;
    const info = await redis.info('memory');
    const used = Number(/^used_memory:(\d+)/m.exec(info)?.[1]);
    await redis.config('SET', 'maxmemory', String(Math.ceil(used / 0.95)));
    try {
      // The coordinator samples every 5 s; the page checks on load and every 10 s.
      const refusing = async (): Promise<boolean> => {
        const r = await fetch(`${base}/api/redis-memory`);
        return ((await r.json()) as { refusing: boolean }).refusing;
      };
      for (let i = 0; i < 60 && !(await refusing()); i++)
        await new Promise((r) => setTimeout(r, 250));
      await page.goto(`${base}/#/`);
      const banner = page.locator('[data-testid="redis-banner"]');
      await banner.waitFor({ state: 'visible' });
      assert.match(
        await banner.innerText(),
        /^Redis is 9\d% full \(\d+ MiB of maxmemory \d+ MiB\): new trials wait/,
      );
      await b.shot('ui-redis-banner');
    } finally {
      await redis.config('SET', 'maxmemory', '0');
    }
    for (let i = 0; i < 60; i++) {
      const r = await fetch(`${base}/api/redis-memory`);
      if (!((await r.json()) as { refusing: boolean }).refusing) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    await page.reload();
    await page.locator('[data-testid="redis-banner"]').waitFor({ state: 'hidden' });
  });

  it('ran without page errors or CSP violations', () => {
    assert.deepEqual(unexpectedErrors(b.errors), []);
  });
});
