import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildTrainerConfig, resolveTrainerConfig } from './config.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-config-'));

describe('trainer config', () => {
  it('defaults to the reference values', () => {
    const c = resolveTrainerConfig({});
    assert.equal(c.batch_size, 32);
    assert.equal(c.lr_bert, 5e-5);
    assert.equal(c.when, 20);
    assert.equal(c.patience, 10);
    assert.equal(c.seed, 1111);
    assert.equal(c.contrast, true);
    assert.equal(c.reference_selection, false);
  });

  it('layers preset < file < overrides, merging text_encoder key by key', () => {
    const file = path.join(tmp, 'a.yaml');
    fs.writeFileSync(file, 'preset: mosei\nalpha: 0.2\ntext_encoder:\n  freeze: true\n');
    const c = buildTrainerConfig({
      file,
      overrides: { alpha: 0.4, text_encoder: { micro_batch: 4 } },
    });
    assert.equal(c.batch_size, 64); // preset
    assert.equal(c.beta, 0.05); // preset
    assert.equal(c.alpha, 0.4); // override beats file
    assert.deepEqual(c.text_encoder, { freeze: true, micro_batch: 4, trainable_layers: null });
  });

  it('names an unknown key and lists what is allowed', () => {
    assert.throws(
      () => resolveTrainerConfig({ lr_mian: 1 }, 'run.yaml'),
      /run\.yaml: unknown key 'lr_mian' \(allowed: .*lr_main/,
    );
    assert.throws(
      () => resolveTrainerConfig({ text_encoder: { frezze: true } }),
      /unknown key 'text_encoder\.frezze'/,
    );
  });

  it('names the key of a wrong value', () => {
    assert.throws(() => resolveTrainerConfig({ batch_size: -3 }), /batch_size: /);
    assert.throws(() => resolveTrainerConfig({ contrast: 'false' }), /contrast: /);
    assert.throws(
      () => buildTrainerConfig({ preset: 'imdb' }),
      /unknown preset 'imdb' \(allowed: mosi, mosei\)/,
    );
  });

  it('reports a broken file with its path', () => {
    const bad = path.join(tmp, 'bad.yaml');
    fs.writeFileSync(bad, 'alpha: [1, 2\n');
    assert.throws(
      () => buildTrainerConfig({ file: bad }),
      (e: Error) => e.message.startsWith(bad) && /not valid YAML/.test(e.message),
    );
  });
});
