import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatInspectReport, inspectDataset } from './inspect.js';
import { expected, fakeTokenize, fixture } from './readers/test-helpers.js';

describe('inspectDataset', () => {
  it('an MMSA pickle: format, sizes, dims, lengths, labels; JSON round-trips', async () => {
    const r = await inspectDataset(fixture('mmsa_unaligned_p4.pkl'));
    assert.equal(r.format, 'mmsa-pickle');
    assert.equal(r.ok, true);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(
      r.splits.map((s) => [
        s.name,
        s.size,
        s.acoustic.steps,
        s.acoustic.dim,
        s.visual.steps,
        s.visual.dim,
      ]),
      [
        ['train', 6, 8, 5, 10, 4],
        ['valid', 3, 8, 5, 10, 4],
        ['test', 3, 8, 5, 10, 4],
      ],
    );
    const want =
      expected<Record<string, { audioLengths: number[]; labels: number[] }>>('mmsa_unaligned');
    const trainLengths = [...(want.train?.audioLengths ?? [])].sort((a, b) => a - b);
    assert.equal(r.splits[0]?.acoustic.lengths?.min, trainLengths[0]);
    assert.equal(r.splits[0]?.acoustic.lengths?.max, trainLengths[trainLengths.length - 1]);
    assert.equal(
      r.splits[0]?.labels.histogram.reduce((a, h) => a + h.count, 0),
      6,
    );
    // Every split's first label is exactly 3.0 (the boundary, allowed).
    assert.ok((r.splits[0]?.labels.histogram.find((h) => h.label === 3)?.count ?? 0) >= 1);
    assert.equal(r.splits[0]?.labels.max, 3);
    assert.ok(r.splits[0]?.tokens !== null, 'text_bert gives token counts');
    assert.equal(r.notes?.negInfAcousticZeroed, 1);
    assert.deepEqual(JSON.parse(JSON.stringify(r)), r);
    const text = formatInspectReport(r);
    assert.match(text, /format mmsa-pickle/);
    assert.match(text, /train\s+6\s+8 x 5/);
    assert.match(text, /no problems found/);
  });

  it('collects every problem instead of stopping at the first', async () => {
    const nan = await inspectDataset(fixture('bad_nan.pkl'));
    assert.equal(nan.ok, false);
    assert.equal(nan.splits.length, 3, 'still summarised');
    assert.deepEqual(
      nan.problems.map((p) => [p.severity, p.split, p.index, p.field]),
      [['error', 'valid', 1, 'vision']],
    );
    const labels = await inspectDataset(fixture('bad_label_range.pkl'));
    assert.match(labels.problems[0]?.message ?? '', /label 3\.5/);
    assert.match(formatInspectReport(labels), /error: .*sample 4.*label 3\.5/);
  });

  it('unreadable files are one problem, not an exception', async () => {
    for (const [file, message] of [
      ['bad_truncated.pkl', /truncated/],
      ['evil_os_system.pkl', /posix\.system/],
      ['nope.pkl', /no such file|ENOENT/i],
    ] as const) {
      const r = await inspectDataset(fixture(file));
      assert.equal(r.ok, false, file);
      assert.match(r.problems[0]?.message ?? '', message);
      assert.deepEqual(JSON.parse(JSON.stringify(r)), r);
    }
  });

  it('an MMIM-repo pickle, with and without a tokenizer', async () => {
    const r = await inspectDataset(fixture('mosi_data_noalign.pkl'));
    assert.equal(r.format, 'mmim-pickle');
    assert.equal(r.splits[0]?.tokens, null);
    // The planted NaN is reported; without sanitize, inspection still finishes.
    assert.deepEqual(
      r.problems.map((p) => p.field),
      ['vision'],
    );
    const t = await inspectDataset(fixture('mosi_data_noalign.pkl'), { tokenize: fakeTokenize });
    assert.ok(t.splits[0]?.tokens);
    const missing = await inspectDataset(fixture('mosi_data_noalign.pkl'), {
      labelCsv: fixture('MOSI-label-missing.csv'),
    });
    assert.ok(
      missing.problems.some((p) => p.field === 'id' && p.count === 2),
      'both missing ids counted',
    );
  });

  it('.csd files and folders', async () => {
    const one = await inspectDataset(fixture('csd/test_COVAREP.csd'));
    assert.equal(one.format, 'csd');
    assert.deepEqual(
      one.sequences.map((q) => [q.root, q.entries, q.dim]),
      [['COVAREP', 3, 3]],
    );
    const folder = await inspectDataset(fixture('csd'));
    assert.equal(folder.sequences.length, 8);
    const bad = folder.problems.find((p) => p.file.endsWith('bad_dims_COVAREP.csd'));
    assert.match(bad?.message ?? '', /different feature widths: 3 .*5 \(e\.g\. 'vidB'\)/);
    assert.match(formatInspectReport(folder), /test_FACET\.csd\s+FACET 4\.2\s+3\s+2/);
  });
});
