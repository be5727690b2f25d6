import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { DataError, SPLITS, type SplitName } from '../types.js';
import { readCsdDataset, type CsdSources } from './csd.js';
import { CsdFile } from './csd-file.js';
import { assertClose, expected, fakeTokenize, fixture } from './test-helpers.js';

interface ExpectedSegment {
  label: number;
  audio: number[];
  vision: number[];
  audioLength: number;
  visionLength: number;
  text: string;
}
const want = expected<{
  folds: Record<SplitName, string[]>;
  segments: Record<string, ExpectedSegment>;
}>('csd');

const videoKeyed: CsdSources = {
  labels: fixture('csd/test_Opinion_Labels.csd'),
  acoustic: fixture('csd/test_COVAREP.csd'),
  visual: fixture('csd/test_FACET.csd'),
  words: fixture('csd/test_TimestampedWords.csd'),
};

describe('CsdFile', () => {
  it('reads root, entries, shapes, intervals, metadata', async () => {
    const f = await CsdFile.open(fixture('csd/test_COVAREP.csd'));
    try {
      assert.equal(f.root, 'COVAREP');
      assert.deepEqual(f.keys(), ['vidA', 'vidB', 'vidC']);
      assert.deepEqual(f.shape('vidA'), { rows: 14, dim: 3 });
      assert.deepEqual(Array.from(f.intervals('vidA').subarray(0, 4)), [0, 0.25, 0.25, 0.5]);
      assert.equal(f.metadata()['root name'], 'COVAREP');
    } finally {
      f.close();
    }
  });
  it('a file that is not HDF5 is a DataError', async () => {
    await assert.rejects(CsdFile.open(fixture('MOSI-label.csv')), /not an HDF5/);
  });
});

describe('readCsdDataset', () => {
  it('video-keyed files: frames overlapping each labelled segment, words without pauses', async () => {
    const ds = await readCsdDataset(videoKeyed, { folds: want.folds, tokenize: fakeTokenize });
    assert.equal(ds.format, 'csd');
    for (const split of SPLITS) {
      const s = ds.splits[split];
      const videos = new Set(want.folds[split]);
      const ids = Object.keys(want.segments).filter((id) => videos.has(id.replace(/\[.*$/, '')));
      assert.deepEqual([...s.ids].sort(), ids.sort(), `${split} ids`);
      s.ids.forEach((id, i) => {
        const w = want.segments[id] as ExpectedSegment;
        assertClose([s.labels[i] as number], [w.label], `${id} label`);
        assert.equal(s.texts[i], w.text, `${id} text`);
        assert.equal(s.acousticLengths[i], Math.max(1, w.audioLength), `${id} audio length`);
        assert.equal(s.visualLengths[i], Math.max(1, w.visionLength), `${id} vision length`);
        const a = s.acoustic.subarray(
          i * s.acousticSteps * 3,
          (i * s.acousticSteps + w.audioLength) * 3,
        );
        assertClose(a, w.audio, `${id} audio`);
        const v = s.visual.subarray(
          i * s.visualSteps * 2,
          (i * s.visualSteps + w.visionLength) * 2,
        );
        assertClose(v, w.vision, `${id} vision`);
      });
    }
    // Padded to the longest segment of the split.
    const train = ds.splits.train;
    assert.equal(train.acousticSteps, Math.max(...train.acousticLengths));
    assert.equal(ds.splits.test.size, 0);
  });

  it('segment-keyed files (SDK align + deploy), mixed with video-keyed ones, give the same samples', async () => {
    const seg = await readCsdDataset(
      {
        ...videoKeyed,
        labels: fixture('csd/seg_Opinion_Labels.csd'),
        acoustic: fixture('csd/seg_COVAREP.csd'),
        words: undefined,
      },
      { folds: want.folds, tokenize: fakeTokenize },
    );
    const s = seg.splits.train;
    s.ids.forEach((id, i) => {
      const w = want.segments[id] as ExpectedSegment;
      assert.equal(s.acousticLengths[i], w.audioLength, id);
      assertClose(
        s.acoustic.subarray(i * s.acousticSteps * 3, (i * s.acousticSteps + w.audioLength) * 3),
        w.audio,
        id,
      );
    });
    assert.equal(s.size, 5);
  });

  it('videos in no fold are left out and counted; no folds at all is an error', async () => {
    const ds = await readCsdDataset(videoKeyed, {
      folds: { train: ['vidA'] },
      tokenize: fakeTokenize,
    });
    assert.equal(ds.splits.train.size, 2);
    assert.ok(ds.notes?.warnings.some((w) => /4 segments of videos in no fold/.test(w)));
    await assert.rejects(
      readCsdDataset(videoKeyed, { folds: {}, tokenize: fakeTokenize }),
      /pass folds/,
    );
  });

  it('mixed feature widths name the file, split, sample and entry', async () => {
    await assert.rejects(
      readCsdDataset(
        { ...videoKeyed, acoustic: fixture('csd/bad_dims_COVAREP.csd') },
        { folds: want.folds, tokenize: fakeTokenize },
      ),
      (err: unknown) => {
        assert.ok(err instanceof DataError);
        assert.match(err.message, /bad_dims_COVAREP\.csd .*5-wide, other entries 3-wide/);
        assert.deepEqual(err.location, { split: 'valid', index: 0, field: 'vidB/features' });
        return true;
      },
    );
  });

  describe('damaged files', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'csd-test-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    it('a truncated .csd is a DataError, not a crash', async () => {
      const cut = path.join(dir, 'cut.csd');
      const whole = readFileSync(videoKeyed.acoustic);
      writeFileSync(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
      await assert.rejects(
        readCsdDataset(
          { ...videoKeyed, acoustic: cut },
          { folds: want.folds, tokenize: fakeTokenize },
        ),
        (err: unknown) => err instanceof DataError && err.file === cut,
      );
    });
    it('a missing entry names it', async () => {
      await assert.rejects(
        readCsdDataset(
          { ...videoKeyed, visual: fixture('csd/missing_FACET.csd') },
          { folds: want.folds, tokenize: fakeTokenize },
        ),
        (err: unknown) => {
          assert.ok(err instanceof DataError);
          assert.match(err.message, /missing_FACET\.csd .*has no entry 'vidC\[0\]' or 'vidC'/);
          assert.deepEqual(err.location, { split: 'train', index: 2, field: 'vidC[0]' });
          return true;
        },
      );
    });
  });
});
