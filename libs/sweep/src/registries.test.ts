/**
 * The sampler and early-stopping tables drive the sweep file: every entry is a valid `method:` /
 * `early_terminate.type:` and builds its own sampler / scheduler; names outside them are refused
 * with the table's names in the message.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SAMPLERS, SAMPLER_NAMES, createSampler } from './samplers.js';
import { EARLY_STOPPING_NAMES, EARLY_STOPPING_RULES, createScheduler } from './schedulers.js';
import { SweepConfigError, parseSweepSpec } from './sweep-config.js';

function base(): Record<string, unknown> {
  return {
    name: 's',
    data: { synthetic: 'mosi', train: 64 },
    method: 'random',
    metric: { name: 'valid.mae', goal: 'minimize' },
    parameters: { alpha: { values: [0.1, 0.2] } },
    run_cap: 2,
  };
}

describe('sampler table', () => {
  it('lists grid, random and bayes, each with a description', () => {
    assert.deepEqual(SAMPLER_NAMES, ['grid', 'random', 'bayes']);
    for (const entry of Object.values(SAMPLERS)) assert.ok(entry.description.length > 0);
  });

  it('every entry is a method the sweep file accepts, and builds a sampler that asks', () => {
    for (const method of SAMPLER_NAMES) {
      const spec = parseSweepSpec({ ...base(), method });
      assert.equal(spec.method, method);
      const params = createSampler(spec).ask({ finished: [], running: [] }, 0);
      assert.ok(params !== null && [0.1, 0.2].includes(params.alpha as number), method);
    }
  });

  it('a method outside the table is refused at method', () => {
    assert.throws(
      () => parseSweepSpec({ ...base(), method: 'cmaes' }),
      (err: unknown) => err instanceof SweepConfigError && err.issues[0]?.path === 'method',
    );
  });

  it("an entry's options key is only allowed with that method (tpe: with bayes)", () => {
    assert.equal(
      parseSweepSpec({ ...base(), method: 'bayes', tpe: { n_startup: 2 } }).tpe.nStartup,
      2,
    );
    assert.throws(
      () => parseSweepSpec({ ...base(), method: 'grid', tpe: { n_startup: 2 } }),
      /tpe: only applies to method bayes \(method is grid\)/,
    );
  });
});

describe('early-stopping table', () => {
  it('every entry parses with its defaults and builds a scheduler of that name', () => {
    const expectedName: Record<string, string> = { asha: 'asha', median: 'median', none: 'none' };
    assert.deepEqual([...EARLY_STOPPING_NAMES].sort(), ['asha', 'median', 'none']);
    for (const type of EARLY_STOPPING_NAMES) {
      assert.ok(EARLY_STOPPING_RULES[type].description.length > 0);
      const spec = parseSweepSpec({ ...base(), early_terminate: { type } });
      assert.equal(spec.earlyTerminate.type, type);
      assert.equal(createScheduler(spec).name, expectedName[type]);
    }
  });

  it('an unknown type names the table entries', () => {
    assert.throws(
      () => parseSweepSpec({ ...base(), early_terminate: { type: 'pbt' } }),
      /early_terminate\.type: unknown type "pbt" \(allowed: asha, median, none\)/,
    );
  });

  it("an entry's settings check reports its own path (asha min_epochs > num_epochs)", () => {
    assert.throws(
      () =>
        parseSweepSpec({
          ...base(),
          trainer: { num_epochs: 2 },
          early_terminate: { type: 'asha', min_epochs: 3 },
        }),
      /early_terminate\.min_epochs: must be <= the max epochs \(got 3 > 2\)/,
    );
  });
});
