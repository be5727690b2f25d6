import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  RandomSampler,
  TpeSampler,
  createSampler,
  tpeGamma,
  type FinishedConfig,
  type Sampler,
  type SamplerHistory,
} from './samplers.js';
import { configKey, gridOf, type Distribution } from './space.js';
import { parseSweepSpec, type SweepSpec } from './sweep-config.js';

function spec(
  method: 'grid' | 'random' | 'bayes',
  parameters: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): SweepSpec {
  return parseSweepSpec({
    name: 't',
    data: 'x',
    method,
    metric: { name: 'valid.mae', goal: 'minimize' },
    parameters,
    run_cap: 1000,
    ...extra,
  });
}

const MIXED = {
  alpha: { distribution: 'uniform', min: 0, max: 1 },
  lr_main: { distribution: 'log_uniform_values', min: 1e-4, max: 3e-3 },
  d_vh: { values: [16, 32, 64, 128] },
  batch_size: { distribution: 'int_uniform', min: 8, max: 64 },
  dropout_a: { distribution: 'q_uniform', min: 0, max: 0.5, q: 0.05 },
  entropy_jitter: { distribution: 'normal', mu: 0.1, sigma: 0.02 },
  shuffle: { value: true },
};

/** A toy objective over MIXED: best at alpha 0.3, lr 1e-3, d_vh 64, batch 40, dropout 0.1. */
function mixedObjective(p: Record<string, unknown>): number {
  return (
    ((p.alpha as number) - 0.3) ** 2 +
    (Math.log10(p.lr_main as number) + 3) ** 2 +
    (p.d_vh === 64 ? 0 : 0.1) +
    (((p.batch_size as number) - 40) / 56) ** 2 +
    ((p.dropout_a as number) - 0.1) ** 2
  );
}

/** Run a sequential sweep: ask, evaluate, record, `budget` times; returns every ask. */
function runSweep(
  sampler: Sampler,
  f: (p: Record<string, unknown>) => number,
  budget: number,
  from?: SamplerHistory,
) {
  const finished: FinishedConfig[] = [...(from?.finished ?? [])];
  const asked: Record<string, unknown>[] = [];
  for (let i = finished.length; i < budget; i++) {
    const p = sampler.ask({ finished, running: [] }, i);
    assert.ok(p !== null, `no config at ${i}`);
    asked.push(p);
    finished.push({ params: p, value: f(p), state: 'completed' });
  }
  return { asked, finished };
}

function checkInSpace(p: Record<string, unknown>) {
  const a = p.alpha as number;
  const lr = p.lr_main as number;
  assert.ok(a >= 0 && a <= 1, `alpha ${a}`);
  assert.ok(lr >= 1e-4 && lr <= 3e-3, `lr ${lr}`);
  assert.ok([16, 32, 64, 128].includes(p.d_vh as number), `d_vh ${String(p.d_vh)}`);
  assert.ok(
    Number.isInteger(p.batch_size) &&
      (p.batch_size as number) >= 8 &&
      (p.batch_size as number) <= 64,
    `batch ${String(p.batch_size)}`,
  );
  const d = p.dropout_a as number;
  assert.ok(
    d >= 0 && d <= 0.5 && Math.abs(d / 0.05 - Math.round(d / 0.05)) < 1e-9 && String(d).length <= 4,
    `dropout ${d}`,
  );
  assert.equal(typeof p.entropy_jitter, 'number');
  assert.equal(p.shuffle, true);
}

describe('grid sampler', () => {
  it('gives the index-th grid point and null past the end', () => {
    const s = spec('grid', {
      alpha: { values: [0, 0.1] },
      d_vh: { distribution: 'q_uniform', min: 16, max: 48, q: 16 },
    });
    const sampler = createSampler(s);
    assert.equal(sampler.name, 'grid');
    const grid = gridOf(s.parameters);
    for (let i = 0; i < 6; i++)
      assert.deepEqual(sampler.ask({ finished: [], running: [] }, i), grid[i]);
    assert.equal(sampler.ask({ finished: [], running: [] }, 6), null);
  });
});

describe('random and TPE samplers', () => {
  for (const method of ['random', 'bayes'] as const) {
    it(`${method}: stays in the space and is reproducible from (seed, index, history)`, () => {
      const s = spec(method, MIXED, { sampler_seed: 3 });
      const a = runSweep(createSampler(s), mixedObjective, 25);
      const b = runSweep(createSampler(s), mixedObjective, 25);
      assert.deepEqual(a.asked, b.asked);
      a.asked.forEach(checkInSpace);
      const other = runSweep(
        createSampler(spec(method, MIXED, { sampler_seed: 4 })),
        mixedObjective,
        25,
      );
      assert.notDeepEqual(other.asked, a.asked);
      assert.equal(
        new Set(a.asked.map((p) => configKey(p))).size,
        25,
        'a config was proposed twice',
      );
    });

    it(`${method}: a sampler rebuilt after a restart asks exactly what the old one would`, () => {
      const s = spec(method, MIXED, { sampler_seed: 9 });
      const uninterrupted = runSweep(createSampler(s), mixedObjective, 20);
      // "Restart" after 12 configs: a fresh sampler sees only the recorded history (a JSON round trip).
      const recorded = JSON.parse(
        JSON.stringify({ finished: uninterrupted.finished.slice(0, 12), running: [] }),
      ) as SamplerHistory;
      const resumed = runSweep(createSampler(s), mixedObjective, 20, recorded);
      assert.deepEqual(resumed.asked, uninterrupted.asked.slice(12));
    });
  }

  it('random: a small discrete space is exhausted without repeats, then null', () => {
    const s = spec('random', { d_vh: { values: [16, 32, 64] }, alpha: { values: [0, 0.1] } });
    const sampler = createSampler(s);
    const history: SamplerHistory = { finished: [], running: [] };
    for (let i = 0; i < 6; i++) {
      const p = sampler.ask(history, i);
      assert.ok(p !== null);
      history.running.push(p);
    }
    assert.equal(new Set(history.running.map((p) => configKey(p))).size, 6);
    assert.equal(sampler.ask(history, 6), null);
  });

  it('TPE: gamma is Optuna default min(ceil(0.1 n), 25)', () => {
    assert.deepEqual([1, 9, 10, 11, 100, 250, 1000].map(tpeGamma), [1, 1, 1, 2, 10, 25, 25]);
  });

  it('TPE: its first n_startup configs are the random sampler draws', () => {
    const s = spec('bayes', MIXED, { tpe: { n_startup: 4 } });
    const tpe = runSweep(createSampler(s), mixedObjective, 6);
    const random = runSweep(createSampler({ ...s, method: 'random' }), mixedObjective, 6);
    assert.deepEqual(tpe.asked.slice(0, 4), random.asked.slice(0, 4));
    assert.notDeepEqual(tpe.asked.slice(4), random.asked.slice(4));
  });

  function medianBest(
    make: (seed: number) => Sampler,
    f: (p: Record<string, unknown>) => number,
  ): number {
    const bests: number[] = [];
    for (let seed = 0; seed < 20; seed++)
      bests.push(Math.min(...runSweep(make(seed), f, 30).finished.map((x) => x.value as number)));
    bests.sort((a, b) => a - b);
    return ((bests[9] as number) + (bests[10] as number)) / 2;
  }

  const tpeOf =
    (parameters: Record<string, Distribution>, goal: 'minimize' | 'maximize' = 'minimize') =>
    (seed: number) =>
      new TpeSampler(parameters, { goal, seed, nStartup: 5, nEiCandidates: 24 });

  it('TPE beats random on (x - 0.3)^2 over uniform [0, 1]: median best of 20 seeds, budget 30', () => {
    const parameters: Record<string, Distribution> = { alpha: { kind: 'uniform', min: 0, max: 1 } };
    const f = (p: Record<string, unknown>) => ((p.alpha as number) - 0.3) ** 2;
    const random = medianBest((seed) => new RandomSampler(parameters, seed), f);
    const tpe = medianBest(tpeOf(parameters), f);
    // Measured: random 2.6e-4, TPE 1.6e-5.
    assert.ok(tpe < random / 4, `TPE ${tpe} vs random ${random}`);
  });

  it('TPE beats random on a log-uniform learning rate, maximising', () => {
    const parameters: Record<string, Distribution> = {
      lr_main: { kind: 'log_uniform_values', min: 1e-5, max: 1e-1 },
    };
    // Peak at lr = 10^-3.2; maximise the negated distance in decades.
    const f = (p: Record<string, unknown>) => -((Math.log10(p.lr_main as number) + 3.2) ** 2);
    const neg = (p: Record<string, unknown>) => -f(p);
    const random = medianBest((seed) => new RandomSampler(parameters, seed), neg);
    const tpe = (() => {
      const bests: number[] = [];
      for (let seed = 0; seed < 20; seed++)
        bests.push(
          Math.max(
            ...runSweep(tpeOf(parameters, 'maximize')(seed), f, 30).finished.map(
              (x) => x.value as number,
            ),
          ),
        );
      bests.sort((a, b) => b - a);
      return -((bests[9] as number) + (bests[10] as number)) / 2;
    })();
    assert.ok(tpe < random / 4, `TPE ${tpe} vs random ${random}`);
  });

  it('TPE beats random on a mixed space (categorical, int, q, log, normal, constant)', () => {
    const s = spec('bayes', MIXED);
    const random = medianBest((seed) => new RandomSampler(s.parameters, seed), mixedObjective);
    const tpe = medianBest(tpeOf(s.parameters), mixedObjective);
    assert.ok(tpe < random, `TPE ${tpe} vs random ${random}`);
  });

  it('TPE constant liar: running configs push the next asks away from them', () => {
    const s = spec('bayes', { alpha: { distribution: 'uniform', min: 0, max: 1 } });
    const sampler = createSampler(s);
    const { finished } = runSweep(sampler, (p) => ((p.alpha as number) - 0.3) ** 2, 15);
    // Three configs near the optimum are still running (none is proposed again exactly, so
    // this is the lie at work, not the no-repeat rule).
    const running = [{ alpha: 0.29 }, { alpha: 0.3 }, { alpha: 0.31 }];
    let changed = 0;
    let distanceAlone = 0;
    let distanceLied = 0;
    for (let i = 15; i < 35; i++) {
      const alone = (sampler.ask({ finished, running: [] }, i) as { alpha: number }).alpha;
      const lied = (sampler.ask({ finished, running }, i) as { alpha: number }).alpha;
      if (alone !== lied) changed++;
      distanceAlone += Math.abs(alone - 0.3);
      distanceLied += Math.abs(lied - 0.3);
    }
    assert.ok(changed >= 15, `only ${changed} of 20 asks changed`);
    assert.ok(
      distanceLied > 1.5 * distanceAlone,
      `mean distance from the running configs: ${distanceLied / 20} with the lie, ${distanceAlone / 20} without`,
    );
  });

  it('TPE: the same index with a running config never repeats that config', () => {
    const s = spec('bayes', { alpha: { distribution: 'uniform', min: 0, max: 1 } });
    const sampler = createSampler(s);
    const { finished } = runSweep(sampler, (p) => ((p.alpha as number) - 0.3) ** 2, 15);
    for (let i = 15; i < 25; i++) {
      const first = sampler.ask({ finished, running: [] }, i) as { alpha: number };
      assert.notDeepEqual(sampler.ask({ finished, running: [first] }, i), first);
    }
  });

  it('TPE: failed configs count as bad, pruned ones by their value', () => {
    const s = spec('bayes', { d_vh: { values: [16, 32, 64, 128] } }, { tpe: { n_startup: 2 } });
    const sampler = createSampler(s);
    const history: SamplerHistory = {
      finished: [
        { params: { d_vh: 64 }, value: 0.5, state: 'completed' },
        { params: { d_vh: 16 }, value: 0.9, state: 'pruned' },
        { params: { d_vh: 32 }, value: null, state: 'failed' },
      ],
      running: [],
    };
    // With 64 the one good config, TPE proposes 128 (never tried) rather than the bad 16 or failed 32.
    const asks = Array.from(
      { length: 10 },
      (_, i) => (sampler.ask(history, 3 + i) as { d_vh: number }).d_vh,
    );
    assert.ok(
      asks.every((v) => v === 128),
      `asked ${asks.join(', ')}`,
    );
  });
});
