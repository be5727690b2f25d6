import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataError, SPLITS } from '../types.js';
import { readMmsaPickle } from './mmsa.js';
import { assertClose, expected, fakeTokenize, fixture } from './test-helpers.js';

interface ExpectedSplit {
  ids: string[];
  texts: string[];
  labels: number[];
  audioLengths: number[];
  visionLengths: number[];
  audioShape: number[];
  visionShape: number[];
  audio: number[];
  vision: number[];
  bertIds: number[] | null;
  bertMask: number[] | null;
}

async function checkAgainst(file: string, want: Record<string, ExpectedSplit>): Promise<void> {
  const ds = await readMmsaPickle(fixture(file));
  assert.equal(ds.format, 'mmsa-pickle');
  for (const name of SPLITS) {
    const s = ds.splits[name];
    const w = want[name] as ExpectedSplit;
    assert.equal(s.size, w.labels.length, `${name} size`);
    assert.deepEqual(s.ids, w.ids);
    assert.deepEqual(s.texts, w.texts);
    assertClose(s.labels, w.labels, `${name} labels`);
    assert.deepEqual(Array.from(s.acousticLengths), w.audioLengths, `${name} audio lengths`);
    assert.deepEqual(Array.from(s.visualLengths), w.visionLengths, `${name} vision lengths`);
    assert.deepEqual([s.size, s.acousticSteps, s.acousticDim], w.audioShape);
    assert.deepEqual([s.size, s.visualSteps, s.visualDim], w.visionShape);
    assertClose(s.acoustic, w.audio, `${name} audio`);
    assertClose(s.visual, w.vision, `${name} vision`);
    assert.deepEqual(Array.from(s.bertIds), w.bertIds);
    assert.deepEqual(Array.from(s.bertMask), w.bertMask);
    assert.equal(s.textLength, 50);
  }
}

describe('readMmsaPickle', () => {
  const unaligned = expected<Record<string, ExpectedSplit>>('mmsa_unaligned');
  for (const p of [2, 4, 5]) {
    it(`unaligned_50-style, protocol ${p}: values, lengths (0 -> 1), zero padding`, () =>
      checkAgainst(`mmsa_unaligned_p${p}.pkl`, unaligned));
  }

  it('aligned_50-style: both lengths are the text length (sum of the BERT mask)', async () => {
    await checkAgainst('mmsa_aligned_p4.pkl', expected('mmsa_aligned'));
    const ds = await readMmsaPickle(fixture('mmsa_aligned_p4.pkl'));
    const s = ds.splits.train;
    for (let i = 0; i < s.size; i++) {
      const mask = s.bertMask.subarray(i * 50, (i + 1) * 50).reduce((a, b) => a + b, 0);
      assert.equal(s.acousticLengths[i], mask);
      assert.equal(s.visualLengths[i], mask);
    }
  });

  it("CH-SIMS unaligned_39: the file's 39 token positions, unless textLength says otherwise", async () => {
    const ds = await readMmsaPickle(fixture('sims_unaligned_39.pkl'));
    assert.equal(ds.name, 'sims');
    assert.equal(ds.splits.test.textLength, 39);
    assert.equal(ds.splits.test.bertIds.length, 2 * 39);
    await assert.rejects(
      readMmsaPickle(fixture('sims_unaligned_39.pkl'), { textLength: 50 }),
      /expected \(2, 3, 50\)/,
    );
  });

  it('notes count what was changed: -inf audio, zero lengths', async () => {
    const ds = await readMmsaPickle(fixture('mmsa_unaligned_p4.pkl'));
    assert.equal(ds.notes?.negInfAcousticZeroed, 1);
    assert.equal(ds.notes?.zeroLengthsRaised, 3); // sample 1 of each split has vision length 0
    assert.equal(ds.notes?.nonFiniteZeroed, 0);
  });

  it('without text_bert: raw_text goes through the tokenizer, or it is an error', async () => {
    const want = expected<Record<string, { texts: string[] }>>('mmsa_no_text_bert');
    const ds = await readMmsaPickle(fixture('mmsa_no_text_bert_p4.pkl'), {
      tokenize: fakeTokenize,
    });
    const s = ds.splits.valid;
    assert.deepEqual(s.texts, want.valid?.texts);
    const words = (s.texts[0] as string).split(' ').length;
    assert.equal(s.bertIds[0], 101);
    assert.equal(s.bertIds[words + 1], 102);
    assert.equal(
      s.bertMask.subarray(0, 50).reduce((a, b) => a + b, 0),
      words + 2,
    );
    await assert.rejects(
      readMmsaPickle(fixture('mmsa_no_text_bert_p4.pkl')),
      /no token ids in the file and no tokenizer/,
    );
  });
});

describe('readMmsaPickle: bad input names file, split, sample and field', () => {
  const cases: [string, RegExp, { split?: string; index?: number; field?: string }][] = [
    [
      'bad_nan.pkl',
      /1 NaN\/Inf feature value\(s\), first at step 0, feature 2/,
      { split: 'valid', index: 1, field: 'vision' },
    ],
    ['bad_inf.pkl', /NaN\/Inf/, { split: 'test', index: 2, field: 'audio' }],
    [
      'bad_label_range.pkl',
      /label 3\.5 is outside \[-3, 3\]/,
      { split: 'train', index: 4, field: 'regression_labels' },
    ],
    [
      'bad_length.pkl',
      /length 9 is outside \[0, 8\]/,
      { split: 'test', index: 1, field: 'audio_lengths' },
    ],
    [
      'bad_mixed_dims.pkl',
      /acoustic features are 6-wide here but 5-wide in 'train'/,
      { split: 'valid', field: 'acoustic' },
    ],
    ['bad_rank.pkl', /expected 3 dimensions/, { split: 'train', field: 'vision' }],
    ['bad_rows.pkl', /one label per sample|has 3 rows/, { split: 'test' }],
    ['bad_no_split.pkl', /no 'test' split/, { split: 'test' }],
    ['bad_truncated.pkl', /not a readable pickle: .*truncated/, {}],
    ['evil_os_system.pkl', /refusing to load global 'posix\.system'/, {}],
    ['not_a_pickle.pkl', /not a pickle/, {}],
  ];
  for (const [file, message, location] of cases) {
    it(file, async () => {
      await assert.rejects(readMmsaPickle(fixture(file)), (err: unknown) => {
        assert.ok(err instanceof DataError, String(err));
        assert.match(err.message, message);
        assert.ok(err.file.endsWith(file), err.file);
        for (const [k, v] of Object.entries(location))
          assert.equal(err.location[k as keyof typeof err.location], v, k);
        return true;
      });
    });
  }

  it('a missing file is a DataError', async () => {
    await assert.rejects(
      readMmsaPickle(fixture('nope.pkl')),
      (err: unknown) => err instanceof DataError && /cannot open/.test(err.message),
    );
  });

  it('sanitize: true zeroes NaN/Inf and counts them', async () => {
    const ds = await readMmsaPickle(fixture('bad_nan.pkl'), { sanitize: true });
    assert.equal(ds.notes?.nonFiniteZeroed, 1);
    assert.equal(ds.splits.valid.visual[1 * 10 * 4 + 2], 0);
  });
});
