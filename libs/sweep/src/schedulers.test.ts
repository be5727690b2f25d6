import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mulberry32 } from './rng.js';
import {
  AshaScheduler,
  MedianStoppingScheduler,
  NoStopScheduler,
  createScheduler,
  percentile,
  type EpochValue,
  type TrialScheduler,
} from './schedulers.js';
import { parseSweepSpec } from './sweep-config.js';

/** Feed [trial, epoch, value, expected] rows in order, checking each decision. */
function play(s: TrialScheduler, rows: [string, number, number, 'continue' | 'stop'][]) {
  for (const [trial, epoch, value, expected] of rows)
    assert.equal(
      s.onEpoch(trial, epoch, value),
      expected,
      `${trial} epoch ${epoch} value ${value}`,
    );
}

describe('ASHA (Ray Tune AsyncHyperBandScheduler rule, one bracket)', () => {
  it('percentile matches numpy linear interpolation', () => {
    assert.equal(percentile([0.5], 33.3), 0.5);
    assert.ok(Math.abs(percentile([0.5, 0.7], 100 / 3) - 0.5666666666666667) < 1e-12);
    assert.equal(percentile([1, 2, 3, 4, 5], 50), 3);
    assert.equal(percentile([1, 2, 3, 4], 100), 4);
  });

  it('rungs are min_epochs * eta^k up to max epochs', () => {
    assert.deepEqual(new AshaScheduler('minimize', 1, 3, 9).rungsUpTo(100), [1, 3, 9]);
    assert.deepEqual(new AshaScheduler('minimize', 1, 3, 4).rungsUpTo(100), [1, 3]);
    assert.deepEqual(new AshaScheduler('minimize', 2, 2, null).rungsUpTo(20), [2, 4, 8, 16]);
    assert.throws(() => new AshaScheduler('minimize', 1, 1, null), /eta must be > 1/);
  });

  it('worked example: eta = 3, min_epochs = 1, minimising', () => {
    // Rung 1 (epoch 1). Cutoff = the 1/3 quantile (numpy linear) of the losses recorded at the
    // rung BEFORE the arrival; stop when strictly above it; then record the arrival.
    //   A 0.50: nothing recorded                        -> continue   rung: {.50}
    //   B 0.70: q([.50]) = .50, .70 > .50                -> stop       rung: {.50 .70}
    //   C 0.40: q([.50 .70]) = .5667, .40 <= .5667       -> continue
    //   D 0.60: q([.40 .50 .70]) = .4667, .60 > .4667    -> stop
    //   E 0.45: q([.40 .50 .60 .70]) = .50, .45 <= .50   -> continue
    //   F 0.50: q([.40 .45 .50 .60 .70]) = .4667         -> stop
    // Epoch 2 is no rung: A continues whatever its value.
    // Rung 3 (epoch 3):
    //   A 0.30: nothing recorded                        -> continue
    //   C 0.35: q([.30]) = .30                          -> stop
    //   E 0.25: q([.30 .35]) = .3167                    -> continue
    //   H 0.20 arrives at epoch 3 without a rung-1 value: judged at rung 3 only,
    //          q([.25 .30 .35]) = .2833                 -> continue
    // Ray's rule, not "fewer than eta values continue": B is stopped with one value recorded.
    const s = new AshaScheduler('minimize', 1, 3, 9);
    play(s, [
      ['A', 1, 0.5, 'continue'],
      ['B', 1, 0.7, 'stop'],
      ['C', 1, 0.4, 'continue'],
      ['D', 1, 0.6, 'stop'],
      ['E', 1, 0.45, 'continue'],
      ['F', 1, 0.5, 'stop'],
      ['A', 2, 9.9, 'continue'],
      ['C', 2, 0.38, 'continue'],
      ['E', 2, 0.3, 'continue'],
      ['A', 3, 0.3, 'continue'],
      ['C', 3, 0.35, 'stop'],
      ['E', 3, 0.25, 'continue'],
      ['H', 3, 0.2, 'continue'],
    ]);
  });

  it('maximising mirrors minimising; ties continue', () => {
    const s = new AshaScheduler('maximize', 1, 3, null);
    play(s, [
      ['A', 1, -0.5, 'continue'],
      ['B', 1, -0.7, 'stop'],
      ['C', 1, -0.4, 'continue'],
      ['D', 1, -0.6, 'stop'],
    ]);
    const ties = new AshaScheduler('minimize', 1, 2, null);
    play(ties, [
      ['X', 1, 0.5, 'continue'],
      ['Y', 1, 0.5, 'continue'],
      ['Z', 1, 0.5, 'continue'],
    ]);
  });

  it('a repeated report gets the same decision and records nothing new; NaN continues unrecorded', () => {
    const s = new AshaScheduler('minimize', 1, 3, null);
    play(s, [
      ['A', 1, 0.5, 'continue'],
      ['B', 1, 0.7, 'stop'],
      ['B', 1, 0.7, 'stop'],
      ['N', 1, Number.NaN, 'continue'],
      // With B counted once and N not at all, q([.50 .70]) = .5667.
      ['C', 1, 0.56, 'continue'],
    ]);
  });
});

describe('median stopping rule (Vizier rule, Ray comparison set)', () => {
  it('worked example: min_epochs = 2, warmup_trials = 2, minimising', () => {
    // Epoch 1 is before min_epochs: everyone continues.
    // A2: no other trial has reached epoch 2                         -> continue
    // B2: only A has (1 < warmup 2)                                  -> continue
    // C2: running averages at 2: A (1.0+0.8)/2 = .90, B (.9+.7)/2 = .80, median .85;
    //     C's best so far min(1.2, 1.1) = 1.1 > .85                  -> stop
    // D2: A .90, B .80, C (1.2+1.1)/2 = 1.15, median .90; D's best .82 -> continue
    // A3: nobody else at 3                                           -> continue
    // B3: only A                                                     -> continue
    // D3: A (1+.8+.6)/3 = .80, B (.9+.7+.5)/3 = .70, median .75; D's best
    //     min(1.0, .82, .85) = .82 > .75                             -> stop
    const s = new MedianStoppingScheduler('minimize', 2, 2);
    play(s, [
      ['A', 1, 1.0, 'continue'],
      ['B', 1, 0.9, 'continue'],
      ['C', 1, 1.2, 'continue'],
      ['A', 2, 0.8, 'continue'],
      ['B', 2, 0.7, 'continue'],
      ['C', 2, 1.1, 'stop'],
      ['D', 1, 1.0, 'continue'],
      ['D', 2, 0.82, 'continue'],
      ['A', 3, 0.6, 'continue'],
      ['B', 3, 0.5, 'continue'],
      ['D', 3, 0.85, 'stop'],
    ]);
  });

  it('a best value equal to the median continues; maximising mirrors', () => {
    const s = new MedianStoppingScheduler('maximize', 1, 1);
    play(s, [
      ['A', 1, 0.6, 'continue'],
      ['B', 1, 0.6, 'continue'],
      ['C', 1, 0.5, 'stop'],
      ['D', 1, 0.7, 'continue'],
    ]);
  });
});

describe('restore', () => {
  /** A random but fixed stream of epoch reports: 30 trials, up to 9 epochs, stopped ones end. */
  function history(make: () => TrialScheduler): { records: EpochValue[]; decisions: string[] } {
    const rng = mulberry32(5);
    const s = make();
    const live = new Map<string, number>();
    for (let t = 0; t < 30; t++) live.set(`t${t}`, 0);
    const records: EpochValue[] = [];
    const decisions: string[] = [];
    while (live.size > 0) {
      const ids = [...live.keys()];
      const id = ids[Math.floor(rng.next() * ids.length)] as string;
      const epoch = (live.get(id) as number) + 1;
      const value = 1 / epoch + rng.next() * 0.5;
      records.push({ trialId: id, epoch, value });
      const d = s.onEpoch(id, epoch, value);
      decisions.push(d);
      if (d === 'stop' || epoch === 9) live.delete(id);
      else live.set(id, epoch);
    }
    return { records, decisions };
  }

  for (const [name, make] of [
    ['asha', () => new AshaScheduler('minimize', 1, 3, 9)],
    ['median', () => new MedianStoppingScheduler('minimize', 2, 3)],
    ['none', () => new NoStopScheduler('minimize')],
  ] as [string, () => TrialScheduler][]) {
    it(`${name}: a restored scheduler decides the rest exactly as the uninterrupted one`, () => {
      const { records, decisions } = history(make);
      if (name !== 'none')
        assert.ok(
          decisions.includes('stop') && decisions.includes('continue'),
          'the stream exercises both decisions',
        );
      for (const cut of [0, 1, Math.floor(records.length / 3), records.length - 1]) {
        const restored = make();
        // A restored scheduler may have served other trials before: restore replaces its state.
        restored.onEpoch('stale', 1, 100);
        restored.restore(records.slice(0, cut));
        const rest = records.slice(cut).map((r) => restored.onEpoch(r.trialId, r.epoch, r.value));
        assert.deepEqual(rest, decisions.slice(cut), `cut at ${cut}`);
      }
    });
  }
});

describe('createScheduler', () => {
  const base = {
    name: 's',
    data: 'x',
    method: 'random',
    metric: { name: 'valid.acc2', goal: 'maximize' },
    parameters: { alpha: { values: [0.1, 0.2] } },
    run_cap: 2,
  };
  it('builds the configured scheduler with the sweep goal', () => {
    assert.equal(createScheduler(parseSweepSpec(base)).name, 'none');
    const asha = createScheduler(
      parseSweepSpec({ ...base, early_terminate: { type: 'asha', eta: 2 } }),
    );
    assert.equal(asha.name, 'asha');
    // Maximising acc2: the lower second arrival is stopped.
    assert.equal(asha.onEpoch('a', 1, 0.8), 'continue');
    assert.equal(asha.onEpoch('b', 1, 0.7), 'stop');
    assert.equal(
      createScheduler(parseSweepSpec({ ...base, early_terminate: { type: 'median' } })).name,
      'median',
    );
  });
});
