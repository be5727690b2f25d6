/**
 * The lines `mmim up --exit-when-done` ends with: the constant predictor's MAE is computed from
 * the same rows the trial's workers trained and tested on, and the table states the ratio.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TrialRecord } from '@mmim/experiments';
import { generateSyntheticDataset } from '@mmim/data';
import { bestTestLines, constantMae, type BestTestRow } from './best-test.js';

function trialWith(data: Record<string, unknown>, seed: number): TrialRecord {
  return {
    id: 'sweep-c0-s0',
    seed,
    spec: { data, trainer: { num_epochs: 1 } },
  } as unknown as TrialRecord;
}

describe('best config test figures', () => {
  it("the constant's MAE is the train labels' mean scored on the trial's test rows", async () => {
    const trial = trialWith(
      { kind: 'synthetic', dataset: 'mosi', train: 32, valid: 8, test: 16 },
      7,
    );
    // Independently: a larger dataset from the same seed starts with the same rows.
    const big = generateSyntheticDataset({ like: 'mosi', scale: 0.1, seed: 7 }).dataset.splits;
    const train = big.train.labels.slice(0, 32);
    const test = big.test.labels.slice(0, 16);
    const mean = train.reduce((a, b) => a + b, 0) / train.length;
    const expected = test.reduce((a, y) => a + Math.abs(y - mean), 0) / test.length;
    const got = await constantMae(trial);
    assert.ok(got !== null && Math.abs(got - expected) < 1e-9, `${got} vs ${expected}`);
    // A different data seed gives different rows, so a different figure.
    const other = await constantMae(trialWith({ ...(trial.spec['data'] as object), seed: 8 }, 7));
    assert.notEqual(other, got);
  });

  it('a dataset file is not loaded again: no constant', async () => {
    assert.equal(await constantMae(trialWith({ kind: 'file', path: '/nonexistent' }, 1)), null);
  });

  it('prints each seed, the mean and the ratio to the constant', () => {
    const rows: BestTestRow[] = [
      { seed: 1111, trialId: 'a', epoch: 3, corr: 0.75, mae: 0.8, constantMae: 1.2 },
      { seed: 1112, trialId: 'b', epoch: 4, corr: 0.65, mae: 0.88, constantMae: 1.2 },
    ];
    const lines = bestTestLines({ lr_bert: 0.0016234, lr_main: 5e-4 }, rows);
    assert.equal(lines[0], 'best config: lr_bert 0.00162, lr_main 0.0005');
    assert.match(lines[2] ?? '', /seed 1111 \(epoch 3\)\s+0\.750\s+0\.800\s+1\.200$/);
    assert.match(lines[4] ?? '', /^ {2}mean\s+0\.700\s+0\.840\s+1\.200$/);
    assert.match(lines[5] ?? '', /Test MAE 0\.70x the constant's, Corr 0\.70/);
    assert.deepEqual(bestTestLines({}, []), []);
    // Without a constant (file data) there is no ratio line and the column says '-'.
    const noConst = bestTestLines({}, [{ ...rows[0]!, constantMae: null }]);
    assert.match(noConst[2] ?? '', /-$/);
    assert.equal(noConst.length, 3);
  });
});
