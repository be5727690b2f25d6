/**
 * Issue 17's acceptance on a local cluster (real Redis, coordinator, worker processes), once with
 * the run dir's `dir:` store and once with an S3 bucket on a local S3 server (the same test): the
 * checkpoints are in the store, not Redis values; when a sweep ends, the coordinator's
 * GC leaves only what the sweep's policy keeps (here keep_best_trials: 1: the best config's
 * `best`, no `last`), `mmim sweep gc ID --dry-run` has nothing more to delete and says why it
 * keeps what it keeps, and the API serves the kept checkpoint from the directory.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Redis } from 'ioredis';
import { DirArtifactStore, S3ArtifactStore, type ArtifactStore } from '@mmim/artifacts';
import { startS3Server, type S3ServerHandle } from '@mmim/artifacts/testing';
import type { LocalCluster } from '@mmim/cli';
import { startCluster, until } from './helpers.js';

const SWEEP = `
name: retention
data: {synthetic: mosi, train: 32, valid: 16, test: 16, seed: 7}
method: grid
metric: {name: valid.mae, goal: minimize}
parameters:
  lr_main: {values: [0.0003, 0.001, 0.003, 0.01]}
seeds: [1111]
workers_per_trial: 1
run_cap: 4
trainer: {num_epochs: 2, batch_size: 16}
early_terminate: {type: asha, min_epochs: 1, eta: 2}
checkpoints: {keep_best_trials: 1}
`;

function mmim(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['apps/cli/bin/mmim.js', ...args], {
    encoding: 'utf8',
    env: { ...process.env, MMIM_LOG_LEVEL: 'warn' },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Backend {
  name: string;
  /** Sets MMIM_ARTIFACTS (and credentials) for the cluster about to start; null: mmim up's dir. */
  setup(): Promise<{ env: Record<string, string> | null; stop(): Promise<void> }>;
  /** The store as the test reads it, given the cluster's run dir. */
  store(runDir: string): ArtifactStore;
}

let s3: S3ServerHandle | null = null;
const backends: Backend[] = [
  {
    name: 'dir: under the run dir (the mmim up default)',
    setup: async () => ({ env: null, stop: async () => undefined }),
    store: (runDir) => new DirArtifactStore(path.join(runDir, 'artifacts')),
  },
  {
    name: 's3:// on a local S3 server (s3rver)',
    setup: async () => {
      s3 = await startS3Server();
      return {
        env: { MMIM_ARTIFACTS: s3.url('run/'), ...s3.env },
        stop: () => s3?.stop() ?? Promise.resolve(),
      };
    },
    store: () =>
      new S3ArtifactStore({
        bucket: s3?.bucket ?? '',
        prefix: 'run/',
        endpoint: s3?.endpoint ?? '',
        credentials: s3?.credentials ?? { accessKeyId: '', secretAccessKey: '' },
      }),
  },
];

for (const backend of backends)
  describe(`checkpoint retention on a local cluster, ${backend.name}`, { timeout: 600_000 }, () => {
    let cluster: LocalCluster;
    let stopStore: () => Promise<void> = async () => undefined;
    let artifacts: ArtifactStore;
    before(async () => {
      const { env, stop } = await backend.setup();
      stopStore = stop;
      // The cluster's processes take the store from the environment (LocalCluster passes it on).
      const saved = { ...process.env };
      Object.assign(process.env, env ?? {});
      try {
        cluster = await startCluster(2);
      } finally {
        for (const k of Object.keys(env ?? {})) {
          if (saved[k] === undefined) delete process.env[k];
          else process.env[k] = saved[k];
        }
      }
      artifacts = backend.store(cluster.options.runDir);
    });
    after(async () => {
      await cluster?.stop();
      await artifacts?.close();
      await stopStore();
    });

    it("ends a sweep with only the policy's checkpoints on disk and none in Redis", async () => {
      const files = async (): Promise<string[]> =>
        (await artifacts.list('trials/')).map((a) => a.key.slice('trials/'.length));
      const { sweep } = await cluster.api.createSweep(SWEEP);
      const ended = await until(
        'the sweep to finish',
        480_000,
        async () => {
          const r = await cluster.api.sweep(sweep.id);
          return r.sweep.state === 'finished' ? r : null;
        },
        1000,
      );
      const best = ended.sweep.best;
      assert.ok(best !== null, 'a best config');
      const expected = best.trialIds.map((id) => `${id}/best/v`).sort();
      // The GC runs about a second after the last trial changed.
      const kept = await until("the GC to leave the policy's files", 30_000, async () => {
        const now = await files();
        return now.length === expected.length &&
          now.every((f, i) => f.startsWith(expected[i] ?? '?'))
          ? now
          : null;
      });
      assert.equal(kept.filter((f) => f.includes('/last/')).length, 0, 'no last of an ended trial');

      const redis = new Redis(cluster.redisUrl);
      try {
        assert.deepEqual(await redis.keys('mmim:{art:*'), [], 'no checkpoint bytes in Redis');
        assert.match(
          String(await redis.get('mmim:artifacts:store')),
          backend.name.startsWith('dir') ? /^dir:\/.*\/artifacts$/ : /^s3:\/\/mmim-test\/run\//,
        );
      } finally {
        redis.disconnect();
      }

      const dry = mmim('sweep', 'gc', sweep.id, '--dry-run', '--json', '--url', cluster.httpUrl);
      assert.equal(dry.code, 0, dry.stderr);
      const plan = JSON.parse(dry.stdout) as {
        dryRun: boolean;
        drop: unknown[];
        keep: { trialId: string; kind: string; reason: string }[];
      };
      assert.equal(plan.dryRun, true);
      assert.deepEqual(plan.drop, [], 'nothing left to delete');
      assert.deepEqual(
        plan.keep.map((k) => `${k.trialId}:${k.kind}`),
        best.trialIds.map((id) => `${id}:best`),
      );
      const text = mmim('sweep', 'gc', sweep.id, '--dry-run', '--url', cluster.httpUrl);
      assert.match(text.stdout, /would delete 0 checkpoint\(s\)/);
      assert.match(text.stdout, /\+ \S+ best .*the sweep's best config/);
      const run = mmim(
        'sweep',
        'gc',
        sweep.id,
        '--url',
        cluster.httpUrl,
        '--admin-token-file',
        cluster.adminTokenFile,
      );
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /deleted 0 checkpoint\(s\)/);

      // The dashboard's and `mmim sweep best --download`'s route reads the kept file.
      const bestId = best.trialIds[0] ?? '';
      const bytes = await cluster.api.checkpoint(bestId, 'best');
      assert.ok(bytes !== null && bytes.length > 1000);
      assert.deepEqual(
        bytes,
        (await artifacts.get(`trials/${kept[0] ?? ''}`))?.data,
        'served from the store',
      );
      assert.equal(await cluster.api.checkpoint(bestId, 'last'), null);

      // Deleting the ended sweep takes its kept checkpoints and every key of it and its trials.
      const token = ['--url', cluster.httpUrl, '--admin-token-file', cluster.adminTokenFile];
      const unsure = mmim('sweep', 'delete', sweep.id, ...token);
      assert.equal(unsure.code, 2, unsure.stderr);
      assert.match(unsure.stderr, /add --yes/);
      assert.equal((await files()).length, kept.length, 'nothing deleted without --yes');
      const gone = mmim('sweep', 'delete', sweep.id, '--yes', '--json', ...token);
      assert.equal(gone.code, 0, gone.stderr);
      const deleted = JSON.parse(gone.stdout) as { trials: number; checkpoints: number };
      assert.equal(
        deleted.trials,
        Object.values(ended.counts).reduce((a, b) => a + b, 0),
      );
      assert.equal(deleted.checkpoints, kept.length);
      assert.deepEqual(await files(), [], 'no checkpoint of the sweep left in the store');
      const after = new Redis(cluster.redisUrl);
      try {
        const left = (await after.keys('mmim:{*')).filter(
          (k) => k.startsWith(`mmim:{sweep:${sweep.id}}`) || k.startsWith('mmim:{trial:'),
        );
        assert.deepEqual(left, [], 'no key of the sweep or its trials left in Redis');
      } finally {
        after.disconnect();
      }
      const ls = mmim('sweep', 'ls', '--json', '--url', cluster.httpUrl);
      assert.equal(ls.code, 0, ls.stderr);
      assert.ok(!ls.stdout.includes(sweep.id), 'not listed');
      const again = mmim('sweep', 'delete', sweep.id, '--yes', ...token);
      assert.equal(again.code, 1, again.stderr);
      assert.match(again.stderr, /404/);
    });
  });
