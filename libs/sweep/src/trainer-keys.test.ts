/**
 * The sweep lib keeps its own list of trainer keys so it can validate sweep files without
 * loading @mmim/trainer (and TF.js with it). This suite loads the real trainer in a child
 * process (so only this file pays for TF.js) and checks the list and the schema path agree.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TRAINER_CONFIG_KEYS, expandDotted, flattenKeys } from './trainer-keys.js';

// flattenKeys is internal to this lib (not in its index): the child takes it from its file.
const CHILD = `
import { trainerConfigSchema, buildTrainerConfig } from '@mmim/trainer';
import { parseSweepSpec, trialTrainerConfig } from '@mmim/sweep';
import { flattenKeys } from ${JSON.stringify(new URL('./trainer-keys.ts', import.meta.url).href)};
const out = { keys: flattenKeys(trainerConfigSchema.parse({})) };
const sweep = {
  name: 's', data: 'x', method: 'random', metric: { name: 'valid.mae', goal: 'minimize' }, run_cap: 2,
  trainer: { preset: 'mosi', num_epochs: 3, text_encoder: { micro_batch: 4 } },
  parameters: { d_vh: { values: [16, 32] }, 'text_encoder.freeze': { values: [true, false] } },
};
const spec = parseSweepSpec(sweep, { trainerSchema: trainerConfigSchema });
out.parameters = Object.keys(spec.parameters);
const trial = trialTrainerConfig(spec, { d_vh: 32, 'text_encoder.freeze': true }, 1112);
const config = buildTrainerConfig(trial);
out.config = { d_vh: config.d_vh, seed: config.seed, num_epochs: config.num_epochs, text_encoder: config.text_encoder, lr_mmilb: config.lr_mmilb };
try {
  parseSweepSpec({ ...sweep, parameters: { d_vh: { distribution: 'uniform', min: 8, max: 64 }, clip: { values: [0] } } }, { trainerSchema: trainerConfigSchema });
} catch (err) { out.error = err.message; }
console.log(JSON.stringify(out));
`;

describe('trainer keys', () => {
  it('match @mmim/trainer, and its schema validates sweeps and builds trial configs', () => {
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const stdout = execFileSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', CHILD],
      {
        cwd: root,
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    const out = JSON.parse(stdout.trim().split('\n').pop() as string) as {
      keys: string[];
      parameters: string[];
      config: Record<string, unknown>;
      error?: string;
    };
    assert.deepEqual([...TRAINER_CONFIG_KEYS].sort(), [...out.keys].sort());
    assert.deepEqual(out.parameters, ['d_vh', 'text_encoder.freeze']);
    assert.deepEqual(out.config, {
      d_vh: 32,
      seed: 1112,
      num_epochs: 3,
      text_encoder: { trainable_layers: null, freeze: true, micro_batch: 4 },
      lr_mmilb: 4e-3, // from the mosi preset
    });
    assert.match(
      out.error ?? '',
      /parameters\.d_vh: value 38\.1112 \(from uniform\) is not a valid d_vh: .*; parameters\.clip: value 0 \(from categorical\) is not a valid clip: /,
    );
  });

  it('flattens and expands dotted keys', () => {
    assert.deepEqual(flattenKeys({ a: 1, t: { x: null, y: [1] } }), ['a', 't.x', 't.y']);
    assert.deepEqual(expandDotted({ 't.x': 1, a: 2, 't.y': 3 }), { t: { x: 1, y: 3 }, a: 2 });
  });
});
