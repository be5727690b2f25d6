import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type TrialRecord } from '@mmim/experiments';
import { fixtureSweep, fixtureTrial } from '@mmim/experiments/testing';
import { bestHistory, importance, parallelRows, ranks, spearman } from './analysis.js';

describe('sweep analysis', () => {
  it('ranks ties by their average position', () => {
    assert.deepEqual(ranks([10, 20, 20, 5]), [2, 3.5, 3.5, 1]);
  });

  it('computes Spearman rho like the textbook example', () => {
    // Classic IQ vs TV-hours example: rho = -29/165.
    const iq = [106, 86, 100, 101, 99, 103, 97, 113, 112, 110];
    const tv = [7, 0, 27, 50, 28, 29, 20, 12, 6, 17];
    assert.ok(Math.abs(spearman(iq, tv) - -29 / 165) < 1e-12);
    assert.equal(spearman([1, 2, 3], [3, 2, 1]), -1);
    assert.equal(spearman([1, 1, 1], [3, 2, 1]), 0, 'a constant parameter explains nothing');
    assert.equal(spearman([1], [1]), 0);
  });

  it('normalises importance over finished trials and codes categoricals by declared order', () => {
    const sweep = fixtureSweep({
      spec: { parameters: { size: { values: ['small', 'medium', 'large'] } } },
    });
    const trials: TrialRecord[] = [
      ['small', 0.1, 1],
      ['medium', 0.5, 2],
      ['large', 0.2, 3],
      ['large', 0.9, 4],
    ].map(([size, noise, value], i) =>
      fixtureTrial({
        id: `t${i}`,
        number: i,
        params: { size, noise },
        state: 'completed',
        bestValue: value as number,
      }),
    );
    trials.push(
      fixtureTrial({
        id: 'run',
        params: { size: 'small', noise: 9 },
        state: 'running',
        bestValue: 100,
      }),
    );
    trials.push(
      fixtureTrial({
        id: 'fail',
        params: { size: 'small', noise: 9 },
        state: 'failed',
        bestValue: 100,
      }),
    );
    const out = importance(sweep, trials);
    assert.deepEqual(
      out.map((p) => p.name),
      ['size', 'noise'],
    );
    const size = out[0];
    assert.ok(
      size !== undefined && size.correlation > 0.9,
      'ordinal coding small < medium < large',
    );
    assert.equal(size.n, 4, 'running and failed trials excluded');
    assert.ok(Math.abs(out.reduce((s, p) => s + p.importance, 0) - 1) < 1e-12);
    assert.deepEqual(importance(sweep, []), []);
  });

  it('records one best-history point per improvement for maximize', () => {
    const sweep = fixtureSweep({ metric: { name: 'valid.acc2', goal: 'maximize' } });
    const trials = [
      [0.5, 30],
      [0.7, 10],
      [0.6, 20],
      [0.8, 40],
    ].map(([value, endedAt], i) =>
      fixtureTrial({
        id: `t${i}`,
        number: i,
        state: 'pruned',
        bestValue: value ?? 0,
        endedAt: endedAt ?? 0,
      }),
    );
    assert.deepEqual(
      bestHistory(sweep, trials).map((p) => [p.trialId, p.value]),
      [
        ['t1', 0.7],
        ['t3', 0.8],
      ],
    );
  });

  it('builds parallel-coordinates rows with missing and non-numeric values', () => {
    const rows = parallelRows(fixtureSweep(), [
      fixtureTrial({ id: 'a', params: { lr: 0.1, act: 'gelu', norm: true }, bestValue: 1 }),
      fixtureTrial({ id: 'b', params: { lr: 0.2 }, bestValue: 2 }),
      fixtureTrial({ id: 'c', params: { lr: 0.3 }, bestValue: null }),
    ]);
    assert.deepEqual(rows.params, ['act', 'lr', 'norm']);
    assert.deepEqual(
      rows.rows.map((r) => r.values),
      [
        ['gelu', 0.1, 'true'],
        [null, 0.2, null],
      ],
    );
  });
});
