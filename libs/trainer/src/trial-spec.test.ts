/**
 * Trial specs: validation errors name the field, and the same spec prepares the same dataset,
 * BERT config and TrainerConfig (every rank and every attempt of a trial must agree).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { parseTrialSpec, prepareTrial, TrialSpecError, type TrialSpecInput } from './trial-spec.js';

const base: TrialSpecInput = {
  trialId: 'sweep-1.t3',
  attempt: 1,
  seed: 5,
  data: { kind: 'synthetic', dataset: 'mosi', train: 12, valid: 4, test: 5 },
  trainer: { preset: 'mosi', batch_size: 4, num_epochs: 2, seed: 999 },
  bert: { hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32 },
};
const json = (over: Record<string, unknown> = {}): string => JSON.stringify({ ...base, ...over });

describe('trial spec', () => {
  it('takes an exchange compression of none (default) or fp16, and names a bad one', () => {
    assert.equal(parseTrialSpec(json()).exchange, undefined);
    assert.equal(
      parseTrialSpec(json({ exchange: { compression: 'fp16' } })).exchange?.compression,
      'fp16',
    );
    assert.throws(
      () => parseTrialSpec(json({ exchange: { compression: 'int8' } })),
      (e: Error) => e instanceof TrialSpecError && /exchange\.compression/.test(e.message),
    );
  });

  it('names the offending field', () => {
    assert.throws(() => parseTrialSpec('{'), /not valid JSON/);
    assert.throws(() => parseTrialSpec(json({ attempt: 0 })), /attempt/);
    assert.throws(() => parseTrialSpec(json({ trialId: 'a{b}' })), /trialId: .*braces/);
    assert.throws(
      () => parseTrialSpec(json({ data: { kind: 'synthetic', dataset: 'imdb' } })),
      /data\.dataset/,
    );
    assert.throws(() => parseTrialSpec(json({ data: { kind: 'file' } })), /data\.path/);
    assert.throws(() => parseTrialSpec(json({ extra: 1 })), /extra/);
  });

  it('prepares the same rows and config from the same spec; the trial seed wins', async () => {
    const spec = parseTrialSpec(json());
    const [a, b] = await Promise.all([prepareTrial(spec), prepareTrial(spec)]);
    assert.equal(a.config.seed, 5, 'the spec seed overrides trainer.seed');
    assert.equal(a.config.batch_size, 4);
    assert.equal(a.config.lr_mmilb, 4e-3, 'the mosi preset applies');
    assert.equal(a.bert.hidden_size, 16);
    assert.deepEqual(
      [a.data.splits.train.size, a.data.splits.valid.size, a.data.splits.test.size],
      [12, 4, 5],
    );
    assert.deepEqual(a.data.splits.train.visual, b.data.splits.train.visual);
    assert.deepEqual(a.data.splits.test.labels, b.data.splits.test.labels);
    assert.deepEqual(a.batches.batchIndices('train', 1), b.batches.batchIndices('train', 1));
    // The generator's own seed changes the rows.
    const other = await prepareTrial(parseTrialSpec(json({ data: { ...base.data, seed: 77 } })));
    assert.notDeepEqual(other.data.splits.train.labels, a.data.splits.train.labels);
  });

  it('reports a bad trainer key and a missing data path with the field and the path', async () => {
    await assert.rejects(
      prepareTrial(parseTrialSpec(json({ trainer: { lr_main: -1 } }))),
      (err: unknown) => err instanceof TrialSpecError && /trainer: .*lr_main/.test(err.message),
    );
    await assert.rejects(
      prepareTrial(parseTrialSpec(json({ trainer: { no_such_key: 1 } }))),
      /no_such_key/,
    );
    const missing = path.join(os.tmpdir(), 'mmim-no-such-dataset', 'x.pkl');
    await assert.rejects(
      prepareTrial(parseTrialSpec(json({ data: { kind: 'file', path: missing } }))),
      (err: unknown) =>
        err instanceof TrialSpecError && err.message.includes(`data.path '${missing}'`),
    );
    await assert.rejects(
      prepareTrial(parseTrialSpec(json({ bert: { hidden_size: 'big' } }))),
      /bert: hidden_size/,
    );
  });
});
