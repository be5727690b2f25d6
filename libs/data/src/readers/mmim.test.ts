import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataError, SPLITS } from '../types.js';
import { readMmimPickle } from './mmim.js';
import { assertClose, expected, fakeTokenize, fixture } from './test-helpers.js';

interface ExpectedSplit {
  ids: string[];
  texts: string[];
  labels: number[];
  visionLengths: number[];
  audioLengths: number[];
  vision: number[];
  audio: number[];
}

/** The expected values are the reference's create_dataset.py + collate run in numpy. */
async function checkAgainstReference(
  file: string,
  want: Record<string, ExpectedSplit>,
): Promise<void> {
  const ds = await readMmimPickle(fixture(file), { tokenize: fakeTokenize, sanitize: true });
  assert.equal(ds.format, 'mmim-pickle');
  for (const name of SPLITS) {
    const s = ds.splits[name];
    const w = want[name] as ExpectedSplit;
    assert.deepEqual(s.ids, w.ids, `${name} ids`);
    assert.deepEqual(s.texts, w.texts, `${name} texts`);
    assertClose(s.labels, w.labels, `${name} labels`);
    assert.deepEqual(Array.from(s.visualLengths), w.visionLengths, `${name} vision lengths`);
    assert.deepEqual(Array.from(s.acousticLengths), w.audioLengths, `${name} audio lengths`);
    assertClose(s.visual, w.vision, `${name} vision`);
    assertClose(s.acoustic, w.audio, `${name} audio`);
  }
}

describe('readMmimPickle', () => {
  it('MOSI: ids matched to the CSV, front padding moved behind, lengths as the reference', async () => {
    await checkAgainstReference('mosi_data_noalign.pkl', expected('mmim_mosi'));
  });

  it('MOSEI (protocol 2): CSV rows by position, first of 7 label columns', async () => {
    await checkAgainstReference('mosei_senti_data_noalign.pkl', expected('mmim_mosei'));
  });

  it('the text reaches the tokenizer whitespace-normalised', async () => {
    const ds = await readMmimPickle(fixture('mosi_data_noalign.pkl'), {
      tokenize: fakeTokenize,
      sanitize: true,
    });
    const all = SPLITS.flatMap((s) => ds.splits[s].texts);
    assert.ok(all.includes('spaced out'));
    assert.ok(all.includes('he said "no, never"'));
    const s = SPLITS.map((n) => ds.splits[n]).find((x) => x.texts.includes('I loved it'));
    assert.ok(s);
    const i = s.texts.indexOf('I loved it');
    assert.deepEqual(
      Array.from(s.bertIds.subarray(i * 50, i * 50 + 5)),
      [101, 1001, 1005, 1002, 102],
    );
  });

  it('a zero row inside a sequence is counted out and the first real row dropped (reference quirk)', async () => {
    const ds = await readMmimPickle(fixture('mosi_data_noalign.pkl'), {
      tokenize: fakeTokenize,
      sanitize: true,
    });
    const s = ds.splits.train;
    // Sample 3's row T-2 was zeroed inside its sequence: it is still there, at len-2 after the
    // move, while the sequence's first real row fell off the front.
    const len = s.visualLengths[3] as number;
    assert.ok(len >= 2);
    const row = (t: number): number[] =>
      Array.from(s.visual.subarray((3 * 7 + t) * 4, (3 * 7 + t + 1) * 4));
    assert.deepEqual(row(len - 2), [0, 0, 0, 0]);
    assert.notDeepEqual(row(len - 1), [0, 0, 0, 0]);
    assert.equal(ds.notes?.zeroLengthsRaised, 6); // sample 1 of each split, both modalities
  });

  it('NaN without sanitize is an error naming the sample', async () => {
    await assert.rejects(
      readMmimPickle(fixture('mosi_data_noalign.pkl'), { tokenize: fakeTokenize }),
      (err: unknown) => {
        assert.ok(err instanceof DataError);
        assert.deepEqual(err.location, { split: 'train', index: 2, field: 'vision' });
        return true;
      },
    );
  });

  it('an id missing from the CSV names the id and the CSV', async () => {
    await assert.rejects(
      readMmimPickle(fixture('mosi_data_noalign.pkl'), {
        tokenize: fakeTokenize,
        sanitize: true,
        labelCsv: fixture('MOSI-label-missing.csv'),
      }),
      (err: unknown) => {
        assert.ok(err instanceof DataError);
        assert.match(
          err.message,
          /MOSI-label-missing\.csv .*no row with video_id 'v_valid0' and clip_id '1'/,
        );
        assert.deepEqual(err.location, { split: 'valid', index: 0, field: 'id' });
        return true;
      },
    );
  });

  it('a CSV that is not a label CSV, and no tokenizer, are errors', async () => {
    await assert.rejects(
      readMmimPickle(fixture('mosi_data_noalign.pkl'), {
        tokenize: fakeTokenize,
        labelCsv: fixture('zoo_p4.pkl'),
      }),
      DataError,
    );
    await assert.rejects(
      readMmimPickle(fixture('mosi_data_noalign.pkl'), { sanitize: true }),
      /no tokenizer/,
    );
  });
});
