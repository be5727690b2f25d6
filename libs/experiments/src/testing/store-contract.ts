/**
 * The one behaviour every ExperimentStoreApi must have, as a node:test suite: the Redis store
 * (store.test.ts) and the in-memory store (memory-store.test.ts) both run it, so a unit test on
 * the in-memory store tells the truth about the real one (Optuna runs one storage suite over
 * every storage for the same reason). What only Redis has (key slots, concurrent connections,
 * bytes per point) stays in store.test.ts.
 *
 * ```ts
 * experimentStoreContract('MemoryExperimentStore', async () => new MemoryExperimentStore());
 * ```
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecordNotFoundError } from '../errors.js';
import type { ExperimentStoreApi } from '../store-api.js';
import type { ChangeEvent, WorkerSnapshot } from '../types.js';
import { fixtureEpoch, fixtureSweep, fixtureTrial } from './fixtures.js';

function waitFor<T>(pred: () => T | undefined, what: string, ms = 5000): Promise<T> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      const v = pred();
      if (v !== undefined) return resolve(v);
      if (Date.now() - start > ms) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

/**
 * Registers the contract as a `describe` block. `fresh` gives an empty store for each test (a
 * new prefix on a shared Redis, a new object in memory).
 */
export function experimentStoreContract(
  name: string,
  fresh: () => Promise<ExperimentStoreApi>,
): void {
  describe(`ExperimentStoreApi contract: ${name}`, () => {
    it('puts, gets, lists (newest first), updates and counts sweeps', async () => {
      const store = await fresh();
      await store.putSweep(fixtureSweep({ id: 'old', createdAt: 1000 }));
      await store.putSweep(fixtureSweep({ id: 'new', createdAt: 2000 }));
      assert.deepEqual(
        (await store.listSweeps()).map((s) => s.id),
        ['new', 'old'],
      );
      assert.equal((await store.getSweep('old'))?.createdAt, 1000);
      assert.equal(await store.getSweep('missing'), null);
      const paused = await store.updateSweep('old', { state: 'paused' });
      assert.equal(paused.state, 'paused');
      assert.equal(paused.id, 'old');
      assert.ok(paused.updatedAt >= paused.createdAt);
      assert.equal((await store.getSweep('old'))?.state, 'paused');
      await assert.rejects(store.updateSweep('nope', { state: 'paused' }), RecordNotFoundError);

      await store.putTrial(fixtureTrial({ id: 'a', sweepId: 'old', number: 0, state: 'running' }));
      await store.putTrial(
        fixtureTrial({ id: 'b', sweepId: 'old', number: 1, state: 'completed' }),
      );
      await store.putTrial(
        fixtureTrial({ id: 'c', sweepId: 'old', number: 2, state: 'completed' }),
      );
      await store.putTrial(fixtureTrial({ id: 'd', sweepId: 'new', number: 0 }));
      assert.deepEqual(await store.sweepCounts('old'), {
        queued: 0,
        running: 1,
        completed: 2,
        pruned: 0,
        failed: 0,
        cancelled: 0,
      });
      assert.equal((await store.sweepCounts('new')).queued, 1);
      assert.equal((await store.sweepCounts('none')).queued, 0);
    });

    it('deletes a sweep with its trials, epochs, events and curves, and nothing else', async () => {
      const store = await fresh();
      const metric = { name: 'valid.mae', goal: 'minimize' as const };
      for (const id of ['gone', 'kept']) {
        await store.putSweep(fixtureSweep({ id }));
        await store.addSweepEvent(id, { at: 1, type: 'started', message: id });
        for (const n of [0, 1]) {
          const trial = `${id}-t${n}`;
          await store.putTrial(fixtureTrial({ id: trial, sweepId: id, number: n }));
          await store.addEpoch(trial, fixtureEpoch(1, 0.9), metric);
          await store.addEvent(trial, { at: 1, type: 'started', message: trial });
          await store.appendPoints(trial, [{ name: 'train/loss', step: 1, value: 2, at: 1 }]);
        }
      }
      await store.putTrial(fixtureTrial({ id: 'lone', sweepId: null }));
      const removed = await store.deleteSweep('gone');
      assert.deepEqual([...removed].sort(), ['gone-t0', 'gone-t1']);
      assert.equal(await store.getSweep('gone'), null);
      assert.deepEqual(
        (await store.listSweeps()).map((s) => s.id),
        ['kept'],
      );
      assert.deepEqual(await store.sweepEvents('gone'), []);
      for (const t of removed) {
        assert.equal(await store.getTrial(t), null);
        assert.deepEqual(await store.epochs(t), []);
        assert.deepEqual(await store.events(t), []);
        assert.deepEqual(await store.curveNames(t), []);
      }
      assert.deepEqual((await store.listTrials(null)).trials.map((t) => t.id).sort(), [
        'kept-t0',
        'kept-t1',
        'lone',
      ]);
      assert.equal((await store.listTrials('gone')).total, 0);
      assert.equal((await store.epochs('kept-t1')).length, 1);
      assert.deepEqual(await store.curveNames('kept-t0'), ['train/loss']);
      assert.equal((await store.sweepEvents('kept')).length, 1);
      assert.deepEqual(await store.deleteSweep('gone'), [], 'a second delete removes nothing');
    });

    it('rejects ids that would break the hash tags', async () => {
      const store = await fresh();
      await assert.rejects(store.putTrial(fixtureTrial({ id: 'a}b' })), /invalid trial id "a}b"/);
      await assert.rejects(store.getSweep('has space'), /invalid sweep id/);
    });

    it('lists trials filtered, searched, sorted and paged, per sweep and overall', async () => {
      const store = await fresh();
      const states = ['completed', 'running', 'pruned', 'completed', 'queued'] as const;
      for (let i = 0; i < 5; i++) {
        await store.putTrial(
          fixtureTrial({
            id: `t${i}`,
            sweepId: 's',
            number: i,
            createdAt: 100 + i,
            state: states[i],
            params: { lr: [3, 1, 2, 5, 4][i], opt: i % 2 === 0 ? 'adam' : 'sgd' },
            bestValue: i === 4 ? null : 10 - i,
          }),
        );
      }
      await store.putTrial(fixtureTrial({ id: 'lone', sweepId: null, number: 0, createdAt: 50 }));

      const all = await store.listTrials('s');
      assert.equal(all.total, 5);
      assert.deepEqual(
        all.trials.map((t) => t.id),
        ['t0', 't1', 't2', 't3', 't4'],
      );
      const best = await store.listTrials('s', { sort: 'bestValue', order: 'asc' });
      assert.deepEqual(
        best.trials.map((t) => t.id),
        ['t3', 't2', 't1', 't0', 't4'],
        'ascending by best value, missing values last',
      );
      const desc = await store.listTrials('s', { sort: 'bestValue', order: 'desc' });
      assert.deepEqual(
        desc.trials.map((t) => t.id),
        ['t0', 't1', 't2', 't3', 't4'],
        'missing values stay last when descending',
      );
      const byParam = await store.listTrials('s', { sort: 'param:lr', order: 'desc' });
      assert.deepEqual(
        byParam.trials.map((t) => t.id),
        ['t3', 't4', 't0', 't2', 't1'],
      );
      const done = await store.listTrials('s', { state: ['completed', 'pruned'] });
      assert.deepEqual(
        done.trials.map((t) => t.id),
        ['t0', 't2', 't3'],
      );
      const paged = await store.listTrials('s', { offset: 1, limit: 2 });
      assert.equal(paged.total, 5);
      assert.deepEqual(
        paged.trials.map((t) => t.id),
        ['t1', 't2'],
      );
      const searched = await store.listTrials('s', { q: 'SGD' });
      assert.deepEqual(
        searched.trials.map((t) => t.id),
        ['t1', 't3'],
      );
      const everyone = await store.listTrials(null, { sort: 'createdAt' });
      assert.equal(everyone.total, 6);
      assert.equal(everyone.trials[0]?.id, 'lone');
      await assert.rejects(store.listTrials('s', { sort: 'colour' }), /unknown sort key "colour"/);
    });

    it('updates trials and records epochs with the best value by the metric goal', async () => {
      const store = await fresh();
      await store.putTrial(fixtureTrial({ id: 'x' }));
      const running = await store.updateTrial('x', { state: 'running', startedAt: 5 });
      assert.equal(running.state, 'running');
      assert.equal((await store.getTrial('x'))?.startedAt, 5);
      await assert.rejects(
        store.updateTrial('ghost', { state: 'running' }),
        /trial "ghost" not found/,
      );

      const metric = { name: 'valid.mae', goal: 'minimize' as const };
      await store.addEpoch('x', fixtureEpoch(1, 0.9), metric);
      await store.addEpoch('x', fixtureEpoch(2, 0.7), metric);
      const third = await store.addEpoch('x', fixtureEpoch(3, 0.8), metric);
      assert.equal(third.epochs, 3);
      assert.equal(third.lastValue, 0.8);
      assert.equal(third.bestValue, 0.7);
      assert.equal(third.bestEpoch, 2);
      assert.deepEqual(
        (await store.epochs('x')).map((e) => e.epoch),
        [1, 2, 3],
      );

      // Resumed from the epoch-1 checkpoint: epoch 2 comes again and replaces 2 and 3.
      const replay = await store.addEpoch('x', fixtureEpoch(2, 0.85), metric);
      assert.equal(replay.epochs, 2);
      assert.equal(replay.bestValue, 0.85);
      assert.equal(replay.bestEpoch, 2);
      assert.deepEqual(
        (await store.epochs('x')).map((e) => [e.epoch, e.valid.mae]),
        [
          [1, 0.9],
          [2, 0.85],
        ],
      );

      await store.putTrial(fixtureTrial({ id: 'acc' }));
      const maximize = { name: 'valid.acc2', goal: 'maximize' as const };
      const e1 = fixtureEpoch(1, 0.5);
      e1.valid.acc2 = 0.6;
      const e2 = fixtureEpoch(2, 0.5);
      e2.valid.acc2 = 0.55;
      await store.addEpoch('acc', e1, maximize);
      const accTrial = await store.addEpoch('acc', e2, maximize);
      assert.equal(accTrial.bestValue, 0.6);
      assert.equal(accTrial.lastValue, 0.55);
      await assert.rejects(
        store.addEpoch('acc', fixtureEpoch(3, 0.5), { name: 'valid.nope', goal: 'maximize' }),
        /no valid metric "nope"/,
      );
      await assert.rejects(
        store.addEpoch('ghost', fixtureEpoch(1, 1), metric),
        RecordNotFoundError,
      );
    });

    it('keeps trial and sweep events', async () => {
      const store = await fresh();
      await store.putTrial(fixtureTrial({ id: 'ev' }));
      await store.addEvent('ev', { at: 1, type: 'started', message: 'on w1' });
      await store.addEvent('ev', { at: 2, type: 'worker-lost', message: 'w1 gone' });
      assert.deepEqual(
        (await store.events('ev')).map((e) => e.type),
        ['started', 'worker-lost'],
      );
      await assert.rejects(
        store.addEvent('nobody', { at: 1, type: 'started', message: '' }),
        RecordNotFoundError,
      );
      await store.addSweepEvent('sw', { at: 3, type: 'paused', message: 'by admin' });
      assert.deepEqual(await store.sweepEvents('sw'), [
        { at: 3, type: 'paused', message: 'by admin' },
      ]);
      assert.deepEqual(await store.events('none'), []);
    });

    it('stores curves (90 000 points), downsamples keeping extremes and answers after a cursor', async () => {
      const store = await fresh();
      await store.putTrial(fixtureTrial({ id: 'cv' }));
      const n = 90_000; // more than two of the Redis store's GETRANGE pages
      const spikeHi = 12_345;
      const spikeLo = 20_001;
      const points = Array.from({ length: n }, (_, i) => ({
        name: 'train/loss',
        step: i,
        value: i === spikeHi ? 100 : i === spikeLo ? -100 : Math.sin(i / 100),
        at: 1000 + i,
      }));
      for (let i = 0; i < n; i += 30_000)
        await store.appendPoints('cv', points.slice(i, i + 30_000));
      await store.appendPoints('cv', [{ name: 'lr/main', step: 0, value: 1e-4, at: 5 }]);
      assert.deepEqual(await store.curveNames('cv'), ['lr/main', 'train/loss']);

      const full = await store.curve('cv', 'train/loss', { maxPoints: 5000 });
      assert.equal(full.total, n);
      assert.ok(full.points.length <= 5000, `${full.points.length} points`);
      assert.ok(full.points.length >= 4000, 'uses most of the point budget');
      assert.deepEqual(full.points[0], { step: 0, value: 0, at: 1000 });
      assert.equal(full.points.at(-1)?.step, n - 1);
      assert.ok(
        full.points.some((p) => p.step === spikeHi && p.value === 100),
        'max spike kept',
      );
      assert.ok(
        full.points.some((p) => p.step === spikeLo && p.value === -100),
        'min spike kept',
      );
      const steps = full.points.map((p) => p.step);
      assert.deepEqual(
        steps,
        [...steps].sort((x, y) => x - y),
        'in step order',
      );

      const small = await store.curve('cv', 'train/loss', { maxPoints: 10 });
      assert.ok(small.points.length <= 10);
      assert.ok(
        small.points.some((p) => p.value === 100) && small.points.some((p) => p.value === -100),
      );

      const lr = await store.curve('cv', 'lr/main');
      assert.deepEqual(lr.points, [{ step: 0, value: 1e-4, at: 5 }]);

      const none = await store.curve('cv', 'train/loss', { after: full.cursor });
      assert.deepEqual(none.points, []);
      assert.equal(none.cursor, full.cursor);
      await store.appendPoints('cv', [
        { name: 'train/loss', step: n, value: 0.5, at: 9 },
        { name: 'train/loss', step: n + 1, value: 0.25, at: 10 },
      ]);
      const newer = await store.curve('cv', 'train/loss', { after: full.cursor });
      assert.deepEqual(
        newer.points.map((p) => p.step),
        [n, n + 1],
      );
      assert.equal(newer.total, n + 2);
      assert.notEqual(newer.cursor, full.cursor);

      await assert.rejects(
        store.curve('cv', 'train/loss', { after: '12-0' }),
        /bad curve cursor "12-0"/,
      );
      const exact = { name: 'exact', step: 2 ** 40 + 1, value: 0.1 + 0.2, at: 1_764_000_000_123 };
      await store.appendPoints('cv', [exact, { ...exact, value: -0, step: 3 }]);
      const back = await store.curve('cv', 'exact');
      assert.deepEqual(
        back.points[0],
        { step: exact.step, value: 0.1 + 0.2, at: exact.at },
        'float64 kept exactly',
      );
      assert.ok(Object.is(back.points[1]?.value, -0));

      const empty = await store.curve('cv', 'never');
      assert.deepEqual([empty.total, empty.points.length], [0, 0]);
    });

    it('replaces the worker snapshot', async () => {
      const store = await fresh();
      const w = (id: string, name: string): WorkerSnapshot => ({
        id,
        name,
        state: 'idle',
        backend: 'cpu',
        device: 'CPU',
        adapter: null,
        version: '0.1.0',
        trialId: null,
        rank: null,
        step: 0,
        stepTimeMs: 0,
        samplesPerSecond: null,
        lastHeartbeat: 1,
        registeredAt: 1,
      });
      await store.putWorkers([w('2', 'b'), w('1', 'a')]);
      assert.deepEqual(
        (await store.listWorkers()).map((x) => x.name),
        ['a', 'b'],
      );
      await store.putWorkers([w('3', 'c')]);
      assert.deepEqual(
        (await store.listWorkers()).map((x) => x.id),
        ['3'],
      );
      await store.putWorkers([]);
      assert.deepEqual(await store.listWorkers(), []);
    });

    it('publishes a change for every write and stops after unsubscribe', async () => {
      const store = await fresh();
      const seen: ChangeEvent[] = [];
      const stop = await store.subscribe((e) => seen.push(e));
      await store.putSweep(fixtureSweep({ id: 'ps' }));
      await store.updateSweep('ps', { state: 'paused' });
      await store.putTrial(fixtureTrial({ id: 'pt', sweepId: 'ps' }));
      await store.updateTrial('pt', { state: 'running' });
      await store.addEpoch('pt', fixtureEpoch(1, 0.5), { name: 'valid.mae', goal: 'minimize' });
      await store.addEvent('pt', { at: 1, type: 'started', message: '' });
      await store.addSweepEvent('ps', { at: 1, type: 'paused', message: '' });
      await store.appendPoints('pt', [{ name: 'train/loss', step: 1, value: 1, at: 1 }]);
      await store.putWorkers([]);
      await waitFor(() => (seen.length >= 9 ? true : undefined), '9 change events');
      assert.deepEqual(seen, [
        { kind: 'sweep', sweepId: 'ps' },
        { kind: 'sweep', sweepId: 'ps' },
        { kind: 'trial', trialId: 'pt', sweepId: 'ps' },
        { kind: 'trial', trialId: 'pt', sweepId: 'ps' },
        { kind: 'trial', trialId: 'pt', sweepId: 'ps' },
        { kind: 'trial', trialId: 'pt', sweepId: 'ps' },
        { kind: 'sweep', sweepId: 'ps' },
        { kind: 'points', trialId: 'pt', names: ['train/loss'] },
        { kind: 'workers' },
      ]);
      await stop();
      await stop(); // twice is harmless
      await store.publish({ kind: 'workers' });
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(seen.length, 9, 'nothing after unsubscribe');
    });
  });
}
