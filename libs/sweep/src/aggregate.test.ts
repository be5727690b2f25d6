import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  better,
  bestConfig,
  configSummary,
  finishedConfigOf,
  objectiveOf,
  samplerHistory,
  type TrialLike,
} from './aggregate.js';
import { trialTrainerConfig } from './trial-config.js';

let counter = 0;
function trial(
  configKey: string,
  seed: number,
  state: TrialLike['state'],
  bestValue: number | null,
  params: Record<string, unknown> = { alpha: configKey },
): TrialLike {
  counter++;
  return { id: `t${counter}`, number: counter, configKey, params, seed, state, bestValue };
}

describe('objectiveOf and better', () => {
  it('reads split.metric, null when missing or not finite', () => {
    const entry = {
      epoch: 1,
      valid: { mae: 0.8, acc2: 0.7 },
      test: { mae: 0.9, corr: Number.NaN },
    };
    assert.equal(objectiveOf(entry, 'valid.mae'), 0.8);
    assert.equal(objectiveOf(entry, 'test.mae'), 0.9);
    assert.equal(objectiveOf(entry, 'valid.f1'), null);
    assert.equal(objectiveOf(entry, 'test.corr'), null);
    assert.equal(objectiveOf({ epoch: 1 }, 'valid.mae'), null);
    assert.throws(
      () => objectiveOf(entry, 'mae'),
      /metric name must be split\.metric \(got "mae"\)/,
    );
  });

  it('compares by goal; a number beats null', () => {
    assert.equal(better(0.5, 0.6, 'minimize'), true);
    assert.equal(better(0.5, 0.6, 'maximize'), false);
    assert.equal(better(0.5, 0.5, 'minimize'), false);
    assert.equal(better(0.5, null, 'maximize'), true);
    assert.equal(better(null, 0.5, 'minimize'), false);
  });
});

describe('configSummary', () => {
  it('mean and sample std over completed seeds, in seed order; complete when every seed completed', () => {
    const s = configSummary(
      [
        trial('a', 2, 'completed', 0.7),
        trial('a', 1, 'completed', 0.5),
        trial('a', 3, 'completed', 0.9),
      ],
      [1, 2, 3],
    );
    assert.ok(Math.abs((s.mean as number) - 0.7) < 1e-12);
    assert.ok(Math.abs((s.std as number) - 0.2) < 1e-12);
    assert.deepEqual(s.perSeed, [
      { seed: 1, value: 0.5 },
      { seed: 2, value: 0.7 },
      { seed: 3, value: 0.9 },
    ]);
    assert.equal(s.complete, true);
  });

  it('partial: running, pruned and failed seeds do not count', () => {
    const s = configSummary(
      [
        trial('a', 1, 'completed', 0.5),
        trial('a', 2, 'pruned', 0.1),
        trial('a', 3, 'running', 0.2),
      ],
      [1, 2, 3],
    );
    assert.deepEqual(s, {
      mean: 0.5,
      std: null,
      perSeed: [{ seed: 1, value: 0.5 }],
      complete: false,
    });
    assert.deepEqual(configSummary([], [1]), {
      mean: null,
      std: null,
      perSeed: [],
      complete: false,
    });
  });
});

describe('bestConfig', () => {
  const trials = [
    trial('a', 1, 'completed', 0.6),
    trial('a', 2, 'completed', 0.8), // a: mean 0.7, complete
    trial('b', 1, 'completed', 0.5),
    trial('b', 2, 'running', null), // b: mean 0.5 so far
    trial('c', 1, 'pruned', 0.1),
    trial('c', 2, 'failed', null), // c: no completed seed
  ];

  it('picks the best mean over completed seeds; requireComplete limits to finished configs', () => {
    const best = bestConfig(trials, [1, 2], 'minimize');
    assert.deepEqual(best, { configKey: 'b', value: 0.5, trialIds: [(trials[2] as TrialLike).id] });
    const complete = bestConfig(trials, [1, 2], 'minimize', { requireComplete: true });
    assert.equal(complete?.configKey, 'a');
    assert.ok(Math.abs((complete?.value as number) - 0.7) < 1e-12);
    assert.equal(bestConfig(trials, [1, 2], 'maximize')?.configKey, 'a');
    assert.equal(bestConfig([trial('x', 1, 'failed', null)], [1], 'minimize'), null);
  });
});

describe('sampler history from trials', () => {
  it('one entry per config, in order of first trial; live configs are running', () => {
    const trials = [
      trial('a', 1, 'completed', 0.6, { alpha: 0.1 }),
      trial('a', 2, 'completed', 0.8, { alpha: 0.1 }),
      trial('b', 1, 'completed', 0.5, { alpha: 0.2 }),
      trial('b', 2, 'queued', null, { alpha: 0.2 }),
      trial('c', 1, 'pruned', 0.9, { alpha: 0.3 }),
      trial('c', 2, 'completed', 0.7, { alpha: 0.3 }),
      trial('d', 1, 'failed', null, { alpha: 0.4 }),
      trial('d', 2, 'cancelled', null, { alpha: 0.4 }),
    ];
    // Shuffled input: order comes from the trial numbers.
    const h = samplerHistory([...trials].reverse());
    assert.equal(h.finished.length, 3);
    assert.deepEqual(h.finished[0], {
      params: { alpha: 0.1 },
      value: (0.6 + 0.8) / 2,
      state: 'completed',
    });
    assert.equal(h.finished[1]?.state, 'pruned');
    assert.ok(Math.abs((h.finished[1]?.value as number) - 0.8) < 1e-12);
    assert.deepEqual(h.finished[2], { params: { alpha: 0.4 }, value: null, state: 'failed' });
    assert.deepEqual(h.running, [{ alpha: 0.2 }]);
    assert.equal(finishedConfigOf([]), null);
  });
});

describe('trialTrainerConfig', () => {
  it('fixed block, then sampled parameters (dotted keys nested, groups merged), then the seed', () => {
    const cfg = trialTrainerConfig(
      { trainer: { preset: 'mosei', num_epochs: 3, alpha: 0.2, text_encoder: { micro_batch: 8 } } },
      { beta: 0.05, 'text_encoder.freeze': true },
      1113,
    );
    assert.deepEqual(cfg, {
      preset: 'mosei',
      overrides: {
        num_epochs: 3,
        alpha: 0.2,
        beta: 0.05,
        text_encoder: { micro_batch: 8, freeze: true },
        seed: 1113,
      },
    });
    assert.deepEqual(trialTrainerConfig({ trainer: {} }, { alpha: 0 }, 1), {
      overrides: { alpha: 0, seed: 1 },
    });
  });
});
