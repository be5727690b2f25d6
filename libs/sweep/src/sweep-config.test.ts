import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { z } from 'zod';
import {
  SweepConfigError,
  loadSweepFile,
  parseSweepSpec,
  parseSweepYaml,
  type TrainerSchemaLike,
} from './sweep-config.js';

const EXAMPLE = `
name: mosi-alpha-beta
data: runs/data/mosi_synth/unaligned_50.pkl   # a path
method: bayes
metric: {name: valid.mae, goal: minimize}
parameters:
  alpha: {values: [0, 0.1, 0.2, 0.3, 0.4]}
  beta: {distribution: log_uniform_values, min: 0.01, max: 0.5}
  d_vh: {values: [16, 32, 64, 128]}
  lr_main: {distribution: log_uniform_values, min: 1e-4, max: 3e-3}
seeds: [1111, 1112, 1113]
workers_per_trial: 1
early_terminate: {type: asha, min_epochs: 2, eta: 3}
run_cap: 60
trainer: {num_epochs: 4, preset: mosi}
`;

/** A base object to break one key at a time. */
function base(): Record<string, unknown> {
  return {
    name: 's',
    data: { synthetic: 'mosi', train: 64 },
    method: 'random',
    metric: { name: 'valid.mae', goal: 'minimize' },
    parameters: { alpha: { values: [0.1, 0.2] } },
    run_cap: 4,
  };
}

/** The SweepConfigError message for `input`; fails the test when it parses. */
function errorOf(input: unknown, options = {}): string {
  try {
    parseSweepSpec(input, options);
  } catch (err) {
    assert.ok(err instanceof SweepConfigError, `not a SweepConfigError: ${String(err)}`);
    return err.message;
  }
  assert.fail('parsed without error');
}

describe('parseSweepYaml', () => {
  it('reads the documented example with its defaults', () => {
    const spec = parseSweepYaml(EXAMPLE);
    assert.equal(spec.name, 'mosi-alpha-beta');
    assert.equal(spec.data, 'runs/data/mosi_synth/unaligned_50.pkl');
    assert.equal(spec.method, 'bayes');
    assert.deepEqual(spec.metric, { name: 'valid.mae', goal: 'minimize' });
    assert.deepEqual(spec.parameters.alpha, {
      kind: 'categorical',
      values: [0, 0.1, 0.2, 0.3, 0.4],
    });
    assert.deepEqual(spec.parameters.beta, { kind: 'log_uniform_values', min: 0.01, max: 0.5 });
    assert.deepEqual(spec.parameters.lr_main, { kind: 'log_uniform_values', min: 1e-4, max: 3e-3 });
    assert.deepEqual(spec.seeds, [1111, 1112, 1113]);
    // max epochs for the rungs comes from trainer.num_epochs.
    assert.deepEqual(spec.earlyTerminate, { type: 'asha', minEpochs: 2, eta: 3, maxEpochs: 4 });
    assert.equal(spec.runCap, 60);
    assert.deepEqual(spec.trainer, { num_epochs: 4, preset: 'mosi' });
    assert.equal(spec.maxFailures, 3);
    assert.equal(spec.samplerSeed, 0);
    assert.deepEqual(spec.tpe, { nStartup: 5, nEiCandidates: 24 });
    assert.deepEqual(spec.checkpoints, {
      keepBestTrials: 3,
      keepLastPerTrial: false,
      deletePruned: true,
    });
  });

  it('reads the checkpoint retention policy', () => {
    const spec = parseSweepSpec({
      ...base(),
      checkpoints: { keep_best_trials: 1, keep_last_per_trial: true, delete_pruned: false },
    });
    assert.deepEqual(spec.checkpoints, {
      keepBestTrials: 1,
      keepLastPerTrial: true,
      deletePruned: false,
    });
  });

  it('reads the example in docs/sweeps.md', () => {
    const doc = fs.readFileSync(new URL('../../../docs/sweeps.md', import.meta.url), 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(yaml !== undefined, 'docs/sweeps.md has no yaml block');
    const spec = parseSweepYaml(yaml);
    assert.equal(spec.name, 'mosi-alpha-beta');
    assert.deepEqual(spec.parameters['text_encoder.freeze'], {
      kind: 'categorical',
      values: [true, false],
    });
    assert.deepEqual(spec.tpe, { nStartup: 5, nEiCandidates: 24 });
  });

  it('reads every distribution spelling and the synthetic data form', () => {
    const spec = parseSweepSpec({
      ...base(),
      data: { synthetic: 'mosei', train: 100, valid: 20, test: 20, seed: 3 },
      parameters: {
        alpha: { distribution: 'uniform', min: 0, max: 0.5 },
        beta: { min: 0.05, max: 0.5 },
        d_vh: { distribution: 'int_uniform', min: 8, max: 64 },
        d_ah: { distribution: 'q_uniform', min: 16, max: 128, q: 16 },
        entropy_jitter: { distribution: 'normal', mu: 0.1, sigma: 0.02 },
        dropout_a: { distribution: 'categorical', values: [0, 0.1] },
        shuffle: { value: false },
        'text_encoder.freeze': { values: [true, false] },
        dropout: { values: [null, 0] },
      },
      early_terminate: { type: 'median' },
    });
    assert.deepEqual(spec.parameters, {
      alpha: { kind: 'uniform', min: 0, max: 0.5 },
      beta: { kind: 'uniform', min: 0.05, max: 0.5 },
      d_vh: { kind: 'int_uniform', min: 8, max: 64 },
      d_ah: { kind: 'q_uniform', min: 16, max: 128, q: 16 },
      entropy_jitter: { kind: 'normal', mu: 0.1, sigma: 0.02 },
      dropout_a: { kind: 'categorical', values: [0, 0.1] },
      shuffle: { kind: 'constant', value: false },
      'text_encoder.freeze': { kind: 'categorical', values: [true, false] },
      dropout: { kind: 'categorical', values: [null, 0] },
    });
    assert.deepEqual(spec.data, { synthetic: 'mosei', train: 100, valid: 20, test: 20, seed: 3 });
    assert.deepEqual(spec.earlyTerminate, { type: 'median', minEpochs: 1, warmupTrials: 3 });
  });

  it('grid: run_cap defaults to (and is capped at) the grid size; none means no early stopping', () => {
    const params = {
      alpha: { values: [0, 0.1, 0.2] },
      d_vh: { distribution: 'int_uniform', min: 1, max: 2 },
    };
    const grid = parseSweepSpec({
      ...base(),
      method: 'grid',
      run_cap: undefined,
      parameters: params,
    });
    assert.equal(grid.runCap, 6);
    assert.equal(
      parseSweepSpec({ ...base(), method: 'grid', run_cap: 100, parameters: params }).runCap,
      6,
    );
    assert.deepEqual(parseSweepSpec({ ...base(), early_terminate: 'none' }).earlyTerminate, {
      type: 'none',
    });
    assert.deepEqual(
      parseSweepSpec({ ...base(), early_terminate: { type: 'none' } }).earlyTerminate,
      { type: 'none' },
    );
  });

  it('reads a file and names it in errors', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sweep-config-'));
    try {
      const good = path.join(dir, 'sweep.yaml');
      fs.writeFileSync(good, EXAMPLE);
      assert.equal(loadSweepFile(good).name, 'mosi-alpha-beta');
      const bad = path.join(dir, 'bad.yaml');
      fs.writeFileSync(bad, EXAMPLE.replace('max: 0.5', 'max: 0.005'));
      assert.throws(() => loadSweepFile(bad), {
        message: `${bad}: parameters.beta: min must be < max (got 0.01 >= 0.005)`,
      });
      assert.throws(
        () => loadSweepFile(path.join(dir, 'missing.yaml')),
        /missing\.yaml: cannot read/,
      );
      const broken = path.join(dir, 'broken.yaml');
      fs.writeFileSync(broken, 'name: [unclosed');
      assert.throws(() => loadSweepFile(broken), /broken\.yaml: not valid YAML/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sweep config errors name the key', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    [
      'min >= max',
      { parameters: { beta: { distribution: 'log_uniform_values', min: 0.5, max: 0.01 } } },
      /^parameters\.beta: min must be < max \(got 0\.5 >= 0\.01\)$/,
    ],
    [
      'log_uniform min <= 0',
      { parameters: { lr_main: { distribution: 'log_uniform_values', min: 0, max: 0.1 } } },
      /^parameters\.lr_main: min must be > 0 for log_uniform_values \(got 0\)$/,
    ],
    [
      'unknown trainer key',
      { parameters: { lr: { values: [1] } } },
      /^parameters\.lr: unknown trainer config key 'lr' \(allowed: dataset, d_vh,/,
    ],
    [
      'seed as a parameter',
      { parameters: { seed: { values: [1, 2] } } },
      /^parameters\.seed: the seed is not sampled: list the seeds under `seeds:`$/,
    ],
    [
      'unknown distribution',
      { parameters: { beta: { distribution: 'beta', min: 0, max: 1 } } },
      /^parameters\.beta\.distribution: unknown distribution "beta" \(allowed: categorical,/,
    ],
    [
      'W&B log_uniform',
      { parameters: { beta: { distribution: 'log_uniform', min: -3, max: 0 } } },
      /^parameters\.beta\.distribution: .*use log_uniform_values/,
    ],
    [
      'unknown key in a parameter',
      { parameters: { alpha: { distribution: 'uniform', min: 0, max: 1, step: 2 } } },
      /^parameters\.alpha\.step: unknown key$/,
    ],
    [
      'missing bound',
      { parameters: { alpha: { distribution: 'uniform', min: 0 } } },
      /^parameters\.alpha\.max: required \(number\)$/,
    ],
    [
      'int_uniform with a float bound',
      { parameters: { d_vh: { distribution: 'int_uniform', min: 1, max: 2.5 } } },
      /^parameters\.d_vh\.max: /,
    ],
    [
      'q_uniform without q',
      { parameters: { d_vh: { distribution: 'q_uniform', min: 16, max: 64 } } },
      /^parameters\.d_vh\.q: /,
    ],
    [
      'normal sigma <= 0',
      { parameters: { alpha: { distribution: 'normal', mu: 0, sigma: 0 } } },
      /^parameters\.alpha\.sigma: /,
    ],
    [
      'ambiguous integer bounds',
      { parameters: { alpha: { min: 0, max: 1 } } },
      /^parameters\.alpha: integer bounds need an explicit distribution/,
    ],
    [
      'no distribution at all',
      { parameters: { alpha: { low: 0 } } },
      /^parameters\.alpha: give `values: \[\.\.\.\]`/,
    ],
    [
      'parameter not a mapping',
      { parameters: { alpha: [0, 1] } },
      /^parameters\.alpha: must be a mapping/,
    ],
    ['empty values', { parameters: { alpha: { values: [] } } }, /^parameters\.alpha\.values: /],
    [
      'repeated values',
      { parameters: { d_vh: { values: [16, 32, 16] } } },
      /^parameters\.d_vh: values repeat 16$/,
    ],
    [
      'non-scalar value',
      { parameters: { d_vh: { values: [[16]] } } },
      /^parameters\.d_vh\.values\.0: must be a JSON scalar/,
    ],
    ['no parameters', { parameters: {} }, /^parameters: name at least one parameter to sweep$/],
    [
      'bad metric name',
      { metric: { name: 'valid.mse', goal: 'minimize' } },
      /^metric\.name: must be valid\.<m> or test\.<m> with m one of mae, corr,.* \(got "valid\.mse"\)$/,
    ],
    ['bad metric split', { metric: { name: 'train.mae', goal: 'minimize' } }, /^metric\.name: /],
    ['bad goal', { metric: { name: 'valid.mae', goal: 'lower' } }, /^metric\.goal: /],
    ['bad method', { method: 'hyperopt' }, /^method: /],
    [
      'grid with a continuous parameter',
      {
        method: 'grid',
        parameters: {
          alpha: { values: [0] },
          beta: { distribution: 'log_uniform_values', min: 0.01, max: 0.5 },
        },
      },
      /^parameters\.beta: method grid needs discrete parameters \(values, value, int_uniform or q_uniform\); beta is log_uniform_values$/,
    ],
    ['random without run_cap', { run_cap: undefined }, /^run_cap: required for method random/],
    ['run_cap not positive', { run_cap: 0 }, /^run_cap: /],
    ['repeated seeds', { seeds: [1, 2, 1] }, /^seeds: seeds repeat \(got \[1, 2, 1\]\)$/],
    ['negative seed', { seeds: [-1] }, /^seeds\.0: /],
    ['workers_per_trial 0', { workers_per_trial: 0 }, /^workers_per_trial: /],
    ['max_failures 0', { max_failures: 0 }, /^max_failures: /],
    ['unknown top-level key', { program: 'train.py' }, /^program: unknown key$/],
    ['bad data', { data: 42 }, /^data: must be a dataset path or \{synthetic: mosi\|mosei/],
    ['bad synthetic data', { data: { synthetic: 'sims' } }, /^data\.synthetic: /],
    [
      'unknown early_terminate type',
      { early_terminate: { type: 'hyperband', min_iter: 3 } },
      /^early_terminate\.type: unknown type "hyperband" \(W&B's hyperband: use type: asha/,
    ],
    ['bad eta', { early_terminate: { type: 'asha', eta: 1 } }, /^early_terminate\.eta: /],
    [
      'asha min_epochs past the last epoch',
      { trainer: { num_epochs: 2 }, early_terminate: { type: 'asha', min_epochs: 3 } },
      /^early_terminate\.min_epochs: must be <= the max epochs \(got 3 > 2\)$/,
    ],
    [
      'bad median key',
      { early_terminate: { type: 'median', grace: 2 } },
      /^early_terminate\.grace: unknown key$/,
    ],
    [
      'unknown fixed trainer key',
      { trainer: { num_epoch: 4 } },
      /^trainer\.num_epoch: unknown trainer config key 'num_epoch'/,
    ],
    [
      'fixed seed',
      { trainer: { seed: 3 } },
      /^trainer\.seed: list the seeds under `seeds:` instead$/,
    ],
    [
      'fixed and swept',
      { trainer: { alpha: 0.1 } },
      /^parameters\.alpha: also fixed as trainer\.alpha; keep one of them$/,
    ],
    [
      'a misspelt retention key',
      { checkpoints: { keep_best: 2 } },
      /^checkpoints\.keep_best: unknown key$/,
    ],
    [
      'a negative keep_best_trials',
      { checkpoints: { keep_best_trials: -1 } },
      /^checkpoints\.keep_best_trials: /,
    ],
    [
      'tpe options without bayes',
      { tpe: { n_startup: 3 } },
      /^tpe: only applies to method bayes \(method is random\)$/,
    ],
  ];
  for (const [what, change, expected] of cases)
    it(what, () => assert.match(errorOf({ ...base(), ...change }), expected));

  it('reports every problem at once, joined by "; "', () => {
    const message = errorOf({
      ...base(),
      metric: { name: 'valid.mse', goal: 'minimize' },
      parameters: { lr: { values: [1] }, beta: { distribution: 'uniform', min: 1, max: 0 } },
    });
    assert.match(
      message,
      /metric\.name: .*; parameters\.lr: .*; parameters\.beta: min must be < max/,
    );
  });

  it('reports the problems of every key when top-level keys are missing or wrong too', () => {
    // Before, a bad top-level key (here method, workers_per_trial, an unknown key) stopped
    // the check there: the parameters' and trainer's problems came one fix at a time.
    const { method: _method, ...rest } = base();
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sweep-all-')), 'bad.yaml');
    fs.writeFileSync(
      file,
      JSON.stringify({
        ...rest,
        workers_per_trial: 0,
        colour: 'red',
        trainer: { nope: 1 },
        parameters: { beta: { distribution: 'uniform', min: 1, max: 0 } },
      }),
    );
    const err = (() => {
      try {
        loadSweepFile(file);
      } catch (e) {
        return e as SweepConfigError;
      }
      return assert.fail('a bad file was accepted');
    })();
    assert.ok(err instanceof SweepConfigError);
    assert.deepEqual(err.issues.map((i) => i.path).sort(), [
      'colour',
      'method',
      'parameters.beta',
      'trainer.nope',
      'workers_per_trial',
    ]);
    assert.ok(err.message.startsWith(`${file}: `), err.message);
  });

  it('the top level must be a mapping', () => {
    assert.match(errorOf([1, 2]), /^the top level must be a mapping of keys$/);
    assert.match(errorOf({ ...base(), name: undefined }), /^name: /);
  });
});

describe('with the trainer schema', () => {
  // Shaped like @mmim/trainer's trainerConfigSchema (trainer-keys.test.ts runs the real one);
  // passing it here also type-checks that a zod object fits TrainerSchemaLike.
  const schema = z
    .object({
      d_vh: z.number().int().positive().default(16),
      alpha: z.number().min(0).default(0.1),
      dropout: z.number().min(0).max(1).nullable().default(null),
      num_epochs: z.number().int().positive().default(40),
      seed: z.number().int().min(0).default(1111),
      text_encoder: z
        .object({
          freeze: z.boolean().default(false),
          micro_batch: z.number().int().min(0).default(0),
        })
        .strict()
        .default({ freeze: false, micro_batch: 0 }),
    })
    .strict();
  const trainerSchema: TrainerSchemaLike = schema;

  it('takes parameter names from the schema, nested keys dotted', () => {
    const spec = parseSweepSpec(
      {
        ...base(),
        parameters: {
          'text_encoder.micro_batch': { values: [0, 8] },
          dropout: { values: [null, 0.2] },
        },
      },
      { trainerSchema },
    );
    assert.deepEqual(Object.keys(spec.parameters), ['text_encoder.micro_batch', 'dropout']);
    assert.match(
      errorOf({ ...base(), parameters: { lr_main: { values: [0.1] } } }, { trainerSchema }),
      /^parameters\.lr_main: unknown trainer config key 'lr_main' \(allowed: d_vh, alpha, dropout, num_epochs, text_encoder\.freeze, text_encoder\.micro_batch\)$/,
    );
  });

  it('checks listed values and bounds against the key', () => {
    assert.match(
      errorOf({ ...base(), parameters: { d_vh: { values: [16, 0] } } }, { trainerSchema }),
      /^parameters\.d_vh: value 0 \(from categorical\) is not a valid d_vh: /,
    );
    assert.match(
      errorOf(
        { ...base(), parameters: { d_vh: { distribution: 'uniform', min: 8, max: 64 } } },
        { trainerSchema },
      ),
      /^parameters\.d_vh: value 38\.1112 \(from uniform\) is not a valid d_vh: .*int/,
    );
    assert.match(
      errorOf(
        {
          ...base(),
          parameters: { d_vh: { distribution: 'q_uniform', min: 16, max: 18, q: 0.5 } },
        },
        { trainerSchema },
      ),
      /^parameters\.d_vh: value 16\.5 \(from q_uniform\) is not a valid d_vh: /,
    );
    // A single-step q_uniform probes only its one value.
    parseSweepSpec(
      { ...base(), parameters: { d_vh: { distribution: 'q_uniform', min: 16, max: 17, q: 8 } } },
      { trainerSchema },
    );
    assert.match(
      errorOf(
        { ...base(), parameters: { alpha: { distribution: 'uniform', min: -1, max: 1 } } },
        { trainerSchema },
      ),
      /^parameters\.alpha: value -1 \(from uniform\) is not a valid alpha: /,
    );
    assert.match(
      errorOf(
        { ...base(), parameters: { 'text_encoder.freeze': { values: [true, 'no'] } } },
        { trainerSchema },
      ),
      /^parameters\.text_encoder\.freeze: value "no" \(from categorical\) is not a valid text_encoder\.freeze: /,
    );
  });

  it('checks the fixed trainer block', () => {
    assert.match(
      errorOf(
        { ...base(), trainer: { num_epochs: 0, text_encoder: { freeze: 'yes' } } },
        { trainerSchema },
      ),
      /^trainer\.num_epochs: .*; trainer\.text_encoder\.freeze: /,
    );
    const ok = parseSweepSpec(
      { ...base(), trainer: { preset: 'mosi', num_epochs: 3, text_encoder: { freeze: true } } },
      { trainerSchema },
    );
    assert.deepEqual(ok.trainer, { preset: 'mosi', num_epochs: 3, text_encoder: { freeze: true } });
  });
});
