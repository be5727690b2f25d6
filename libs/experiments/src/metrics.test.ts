import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { METRICS, METRIC_KEYS, formatMetric, metricInfo, withMetricAliases } from './metrics.js';

describe('the metric table', () => {
  it('names every metric once, by key and by the trainer’s record key', () => {
    assert.equal(new Set(METRIC_KEYS).size, METRICS.length);
    assert.equal(new Set(METRICS.map((m) => m.recordKey)).size, METRICS.length);
    assert.deepEqual(
      metricInfo('acc2'),
      METRICS.find((m) => m.recordKey === 'acc2_non0'),
    );
    assert.equal(metricInfo('mse'), undefined);
  });

  it('adds every short key to a trainer record, keeping the record’s own names', () => {
    const split = withMetricAliases({ mae: 0.7, corr: 0.6, acc2_non0: 0.8, f1_has0: 0.75 });
    assert.equal(split.acc2, 0.8);
    assert.equal(split.f1NonNeg, 0.75);
    assert.equal(split['acc2_non0'], 0.8);
    assert.ok(Number.isNaN(split.acc7), 'not computed: NaN');
    // A record that already carries a short key keeps it.
    assert.equal(withMetricAliases({ acc2: 0.5, acc2_non0: 0.8 }).acc2, 0.5);
  });

  it('formats by the row: decimals, or percentages', () => {
    assert.equal(formatMetric(metricInfo('mae') ?? METRICS[0], 0.71234), '0.7123');
    assert.equal(formatMetric(metricInfo('acc2') ?? METRICS[0], 0.81234), '81.23');
    assert.equal(formatMetric(METRICS[0], Number.NaN), '-');
    assert.equal(formatMetric(METRICS[0], null, '—'), '—');
  });
});
