/**
 * The checkpoint GC on a real Redis (record and pointers) and a real directory store: the
 * policy's checkpoints stay, the rest leave the disk, a dry run changes nothing, a second pass
 * and a restarted GC free nothing more, crashed writes' leftovers go.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DirArtifactStore } from '@mmim/artifacts';
import { CheckpointStore, ExperimentStore, type TrialRecord } from '@mmim/experiments';
import { fixtureSweep, fixtureTrial } from '@mmim/experiments/testing';
import { startRedisServer, type RedisServerHandle } from '@mmim/param-server/testing';
import type { Logger } from '@mmim/runtime';
import type { Redis } from 'ioredis';
import { CheckpointGc } from './checkpoint-gc.js';

describe('CheckpointGc', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  let root: string;
  let store: ExperimentStore;
  let checkpoints: CheckpointStore;
  const logged: Record<string, unknown>[] = [];
  const log = {
    info: (o: Record<string, unknown>, msg: string) => logged.push({ ...o, msg }),
    warn: (o: Record<string, unknown>, msg: string) => logged.push({ ...o, msg }),
  } as unknown as Logger;
  const files = (): string[] =>
    fs
      .readdirSync(path.join(root, 'trials'), { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.safetensors'))
      .sort();

  before(async () => {
    server = await startRedisServer();
    redis = server.client();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-gc-'));
    store = new ExperimentStore(redis);
    checkpoints = new CheckpointStore(redis, 'mmim:', { artifacts: new DirArtifactStore(root) });
    await store.putSweep(
      fixtureSweep({
        id: 'sw',
        spec: {
          parsed: {
            checkpoints: { keepBestTrials: 1, keepLastPerTrial: false, deletePruned: true },
          },
        },
      }),
    );
    const trials: Partial<TrialRecord>[] = [
      { id: 'good-s1', configKey: 'good', state: 'completed', bestValue: 0.5 },
      { id: 'good-s2', configKey: 'good', state: 'completed', bestValue: 0.7 },
      { id: 'meh', configKey: 'meh', state: 'completed', bestValue: 0.9 },
      { id: 'cut', configKey: 'cut', state: 'pruned', bestValue: 1.5 },
      { id: 'dead', configKey: 'dead', state: 'failed' },
      { id: 'live', configKey: 'live', state: 'running' },
    ];
    for (const [i, t] of trials.entries()) {
      await store.putTrial(fixtureTrial({ ...t, sweepId: 'sw', number: i }));
      await checkpoints.put(t.id ?? '', 'last', new Uint8Array(1000), 2, 1);
      await checkpoints.put(t.id ?? '', 'best', new Uint8Array(2000), 1, 1);
    }
  });
  after(async () => {
    redis.disconnect();
    await server.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('a dry run reports the plan with reasons and deletes nothing', async () => {
    const gc = new CheckpointGc({ store, checkpoints, log });
    const before = files();
    const report = await gc.collect('sw', { dryRun: true });
    assert.deepEqual(report.drop.map((d) => `${d.trialId}:${d.kind}`).sort(), [
      'cut:best',
      'cut:last',
      'dead:best',
      'dead:last',
      'good-s1:last',
      'good-s2:last',
      'meh:best',
      'meh:last',
    ]);
    assert.equal(report.freedBytes, 5 * 1000 + 3 * 2000);
    assert.match(
      report.keep.find((d) => d.trialId === 'good-s2' && d.kind === 'best')?.reason ?? '',
      /among the 1 best/,
    );
    assert.deepEqual(files(), before);
  });

  it("a pass leaves only the policy's checkpoints on disk, logs what it freed, and is idempotent across a restart", async () => {
    const gc = new CheckpointGc({ store, checkpoints, log });
    const report = await gc.collect('sw');
    assert.equal(report.freedBytes, 11_000);
    assert.deepEqual(files(), [
      'good-s1/best/v1.safetensors',
      'good-s2/best/v1.safetensors',
      'live/best/v1.safetensors',
      'live/last/v1.safetensors',
    ]);
    assert.equal(await checkpoints.info('meh', 'best'), null, 'pointer gone too');
    const line = logged.find((l) => l.msg === 'checkpoint gc freed');
    assert.equal(line?.freedBytes, 11_000);
    const restarted = new CheckpointGc({ store, checkpoints, log });
    assert.equal((await restarted.collect('sw')).freedBytes, 0);
    assert.equal((await restarted.collectAll()).freedBytes, 0);
  });

  it('removes versions no pointer names (a crashed write) once old enough, and unfinished temp files', async () => {
    const artifacts = await checkpoints.target();
    await artifacts.put('trials/live/last/v99.safetensors', new Uint8Array(321));
    fs.mkdirSync(path.join(root, '.tmp'), { recursive: true });
    fs.writeFileSync(path.join(root, '.tmp', 'dead-writer'), new Uint8Array(50));
    const young = new CheckpointGc({ store, checkpoints, log });
    assert.equal((await young.collect('sw')).orphans.length, 0, 'may be a write about to swap');
    const gc = new CheckpointGc({ store, checkpoints, log, orphanAgeMs: 0 });
    const pass = await gc.collectAll();
    assert.equal(pass.freedBytes, 321 + 50);
    assert.ok(!files().includes('live/last/v99.safetensors'));
    assert.deepEqual(fs.readdirSync(path.join(root, '.tmp')), []);
    assert.equal((await checkpoints.get('live', 'last'))?.bytes, 1000, 'the named version stays');
  });

  it("frees an ended trial's checkpoints about a second after it ends, and makes a last pass at close", async () => {
    const gc = new CheckpointGc({ store, checkpoints, log, intervalMs: 60_000, debounceMs: 50 });
    gc.start();
    await new Promise((r) => setTimeout(r, 300)); // the start pass and the subscription
    await store.updateTrial('live', { state: 'pruned', bestValue: 3 });
    const deadline = Date.now() + 10_000;
    while (files().includes('live/last/v1.safetensors') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(files(), ['good-s1/best/v1.safetensors', 'good-s2/best/v1.safetensors']);
    await checkpoints.put('good-s1', 'last', new Uint8Array(10), 3, 1); // left by a late writer
    await gc.close();
    await gc.close(); // twice is harmless
    assert.equal(await checkpoints.info('good-s1', 'last'), null, 'the final pass removed it');
  });

  it("deletes every checkpoint of given trials, kept ones and crashed writes' leftovers too", async () => {
    // What is left after the tests above: the two kept `best` files.
    assert.deepEqual(files(), ['good-s1/best/v1.safetensors', 'good-s2/best/v1.safetensors']);
    const artifacts = await checkpoints.target();
    await artifacts.put('trials/good-s2/last/v7.safetensors', new Uint8Array(70)); // no pointer
    const gc = new CheckpointGc({ store, checkpoints, log });
    const freed = await gc.deleteTrials(['good-s1', 'good-s2', 'meh']);
    assert.deepEqual(freed, { checkpoints: 3, freedBytes: 2000 + 2000 + 70 });
    assert.deepEqual(files(), []);
    assert.equal(await checkpoints.info('good-s1', 'best'), null);
    assert.deepEqual(await gc.deleteTrials(['good-s1']), { checkpoints: 0, freedBytes: 0 });
    // The passes still run after it (it queued with them and let the queue go).
    assert.equal((await gc.collectAll()).sweeps, 1);
  });

  it('refuses an unknown sweep by name', async () => {
    const gc = new CheckpointGc({ store, checkpoints, log });
    await assert.rejects(gc.collect('nope'), /no sweep with id nope/);
  });
});
