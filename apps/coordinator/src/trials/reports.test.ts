/** Epoch reports and trial ends (reports.ts) on the in-memory store and queue. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EpochEntry, MetricSpec, TrialRecord } from '@mmim/experiments';
import { settle, trialHarness } from '../testing/trial-harness.js';
import { PerTrialQueue } from './reports.js';

const epoch = (trialId: string, n: number, recordJson: string) => ({
  trialId,
  rank: 0,
  epoch: n,
  recordJson,
});
const completed = (trialId: string, rank = 0) => ({
  trialId,
  rank,
  outcome: 'TRIAL_OUTCOME_COMPLETED' as const,
  error: '',
  resultJson: '{}',
});

describe('ReportHandler', () => {
  it('handles a trial end after the epoch reported just before it, however slow the store (the report-ordering race)', async () => {
    const h = trialHarness();
    await h.manager.start();
    const a = h.join('a');
    await h.submit('t');
    // The epoch's store write is slow; the end arrives right behind the report (fixed in
    // 0f078a2: before, the end was handled first and the epoch was dropped as "ended").
    const addEpoch = h.store.addEpoch.bind(h.store);
    h.store.addEpoch = async (id, entry, metric) => {
      await new Promise((r) => setTimeout(r, 20));
      return addEpoch(id, entry, metric);
    };
    h.registry.emit('epochReport', a.record, epoch('t', 1, h.epochJson(0.8)));
    h.registry.emit('trialEnded', a.record, completed('t'));
    await new Promise((r) => setTimeout(r, 40));
    await settle();
    const t = await h.trial('t');
    assert.equal(t.state, 'completed');
    assert.equal(t.epochs, 1, 'the last epoch is recorded');
    assert.equal(t.bestValue, 0.8);
    const types = (await h.store.events('t')).map((e) => e.type);
    assert.deepEqual(types.slice(-2), ['epoch', 'completed']);
  });

  it('runs one trial’s tasks in order and other trials’ side by side', async () => {
    const q = new PerTrialQueue();
    const log: string[] = [];
    const task = (name: string, ms: number) => async () => {
      await new Promise((r) => setTimeout(r, ms));
      log.push(name);
    };
    await Promise.all([
      q.add('x', task('x1', 15)),
      q.add('x', task('x2', 1)),
      q.add('y', task('y1', 5)),
    ]);
    assert.deepEqual(log, ['y1', 'x1', 'x2']);
    assert.equal(q.size, 0);
  });

  it('records epochs with the metric table’s short names, ignores re-sends and malformed reports', async () => {
    const h = trialHarness();
    await h.manager.start();
    const a = h.join('a');
    await h.submit('t');
    await h.manager.reports.epoch(a.record, epoch('t', 1, h.epochJson(0.9)));
    await h.manager.reports.epoch(a.record, epoch('t', 1, h.epochJson(0.1))); // a re-send
    await h.manager.reports.epoch(a.record, epoch('t', 2, '{"valid": {}}')); // no test split
    const [e1, ...rest] = await h.store.epochs('t');
    assert.equal(rest.length, 0);
    assert.equal(e1?.valid.mae, 0.9);
    assert.equal(e1?.valid.acc2, 0.7, 'acc2 from acc2_non0');
    assert.equal(e1?.valid['acc2_non0'], 0.7, 'the record’s own name kept');
    assert.equal(e1?.valid.acc7, null, 'not computed: NaN, stored as null');
  });

  it('ignores reports of a worker for a trial or rank it does not run', async () => {
    const h = trialHarness();
    await h.manager.start();
    const a = h.join('a');
    const b = h.join('b');
    await h.submit('t');
    assert.deepEqual(h.assigned(a), ['t']);
    await h.manager.reports.epoch(b.record, epoch('t', 1, h.epochJson(0.5)));
    await h.manager.reports.ended(b.record, completed('t'));
    await h.manager.reports.epoch(a.record, { ...epoch('t', 1, h.epochJson(0.5)), rank: 1 });
    const t = await h.trial('t');
    assert.equal(t.state, 'running');
    assert.equal(t.epochs, 0);
  });

  it('prunes when the sweep layer says stop, and only rank 0 completes a group', async () => {
    const seen: string[] = [];
    const h = trialHarness({
      hooks: {
        metricOf: async (): Promise<MetricSpec> => ({ name: 'valid.mae', goal: 'minimize' }),
        onEpoch: async (_t: TrialRecord, e: EpochEntry) => (e.epoch >= 2 ? 'stop' : 'continue'),
        onTrialEnd: async (t) => void seen.push(`${t.id}:${t.state}`),
        mayStart: async () => true,
      },
    });
    await h.manager.start();
    const a = h.join('a');
    const b = h.join('b');
    await h.submit('pair', 2);
    await h.manager.reports.ended(b.record, completed('pair', 1));
    assert.equal((await h.trial('pair')).state, 'running', 'rank 1 does not speak for the group');
    await h.manager.reports.epoch(a.record, epoch('pair', 1, h.epochJson(0.9)));
    await h.manager.reports.epoch(a.record, epoch('pair', 2, h.epochJson(0.8)));
    await settle();
    assert.equal((await h.trial('pair')).state, 'pruned');
    assert.deepEqual(seen, ['pair:pruned']);
    assert.deepEqual(h.stopped(a), ['pair']);
    assert.deepEqual(h.stopped(b), ['pair']);
  });
});
