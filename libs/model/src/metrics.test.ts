import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { binaryScores, pearson, roundHalfEven, sentimentMetrics } from './metrics.js';

describe('sentiment metrics (reference semantics)', () => {
  it('rounds halves to even like numpy', () => {
    assert.deepEqual(
      [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.4, -2.6].map(roundHalfEven),
      [-2, -2, -0, 0, 2, 2, 2, -3],
    );
  });

  it('computes weighted F1 as sklearn (hand-checked example)', () => {
    // truth: T T T F F, pred: T F T T F -> class T: tp 2, fp 1, fn 1 -> F1 2/3 (support 3);
    // class F: tp 1, fp 1, fn 1 -> F1 1/2 (support 2); weighted = (2/3*3 + 1/2*2)/5 = 0.6
    const r = binaryScores([true, true, true, false, false], [true, false, true, true, false]);
    assert.ok(Math.abs(r.weightedF1 - 0.6) < 1e-12);
    assert.ok(Math.abs(r.accuracy - 0.6) < 1e-12);
  });

  it('separates has0 and non0, and clips before rounding for Acc-7/Acc-5', () => {
    const labels = [0, 1.4, -2.6, 3, -0.2, 0.6];
    const preds = [-0.1, 1.6, -3.4, 2.5, 0.3, 0.4];
    const m = sentimentMetrics(preds, labels);
    assert.equal(m.n, 6);
    assert.equal(m.n_non0, 5);
    // has0: label 0 counts as positive; pred -0.1 is negative -> wrong; -0.2 vs 0.3 wrong.
    assert.ok(Math.abs(m.acc2_has0 - 4 / 6) < 1e-12);
    // non0: drop the zero label; -0.2 vs 0.3 wrong -> 4/5.
    assert.ok(Math.abs(m.acc2_non0 - 4 / 5) < 1e-12);
    // Acc-7: round(clip) pairs: (-0,0)✓ (2,1)✗ (-3,-3)✓ (2,3)✗ (0,-0)✓ (0,1)✗ -> 3/6
    assert.ok(Math.abs(m.acc7 - 0.5) < 1e-12);
    // Acc-5 clips to [-2,2]: (-0,0)✓ (2,1)✗ (-2,-2)✓ (2,2)✓ (0,-0)✓ (0,1)✗ -> 4/6
    assert.ok(Math.abs(m.acc5 - 4 / 6) < 1e-12);
    const mae = labels.reduce((s, y, i) => s + Math.abs((preds[i] ?? 0) - y), 0) / 6;
    assert.ok(Math.abs(m.mae - mae) < 1e-12);
  });

  it('gives NaN correlation for constant predictions, as numpy does', () => {
    assert.ok(Number.isNaN(pearson([1, 1, 1], [0, 1, 2])));
    // Expected value from numpy.corrcoef.
    assert.ok(Math.abs(pearson([1, 2, 3], [2, 4, 6.5]) - 0.9979487157886733) < 1e-12);
  });
});
