/**
 * The reader table: each path goes to the reader surest of it, loadDataset and inspectDataset
 * both use it, and a folder of real HDF5 .csd sequences (fixtures/csd_folder, written by
 * fixtures/generate_csd_folder.py with h5py) loads through loadDataset with its folds.json.
 * Before the table, loadDataset refused the folder ("no dataset file in this folder").
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { inspectDataset } from '../inspect.js';
import { loadDataset, resolveDatasetFile } from '../load.js';
import { DataError, SPLITS } from '../types.js';
import { DATASET_READERS, csdFolderReader, pickReader, pickleReader } from './registry.js';
import { expected, fixture } from './test-helpers.js';

const folder = fixture('csd_folder');
const want = expected<{
  sizes: Record<string, number>;
  labels: Record<string, number>;
  dims: { acoustic: number; visual: number };
}>('csd_folder');
const tmp = mkdtempSync(path.join(tmpdir(), 'mmim-readers-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('the reader table', () => {
  it('each entry has a name and a description; detect picks pickle and csd-folder', () => {
    for (const r of DATASET_READERS) assert.ok(r.name.length > 0 && r.description.length > 0);
    assert.equal(pickReader(fixture('mmsa_unaligned_p4.pkl')), pickleReader);
    assert.equal(pickReader(folder), csdFolderReader);
    assert.equal(csdFolderReader.detect(fixture('mmsa_unaligned_p4.pkl')), 0);
    assert.equal(pickleReader.detect(folder), 0);
  });

  it('a path no reader takes is a DataError naming the path and the readers tried', () => {
    const txt = path.join(tmp, 'notes.txt');
    writeFileSync(txt, 'hello');
    assert.throws(
      () => pickReader(txt),
      (err: unknown) =>
        err instanceof DataError &&
        err.message.includes(txt) &&
        /no reader for this file \(tried: pickle: .*; csd-folder: /.test(err.message),
    );
  });
});

describe('a .csd folder through loadDataset', () => {
  it('resolves to itself and loads its splits from folds.json, labels as written', async () => {
    assert.equal(resolveDatasetFile(folder), folder);
    const ds = await loadDataset(folder);
    assert.equal(ds.format, 'csd');
    assert.equal(ds.name, 'Opinion Segment Labels');
    for (const split of SPLITS) assert.equal(ds.splits[split].size, want.sizes[split], split);
    assert.equal(ds.splits.train.acousticDim, want.dims.acoustic);
    assert.equal(ds.splits.train.visualDim, want.dims.visual);
    // The words were tokenised with the folder's vocab.txt (the 'sp' pauses dropped).
    assert.match(ds.splits.train.texts[0] as string, /^the film was$/);
    assert.ok((ds.splits.train.bertIds[1] as number) > 4, 'a known word id after [CLS]');
    const train = ds.splits.train;
    for (let i = 0; i < train.size; i++) {
      const id = train.ids[i] as string;
      assert.ok(Math.abs((train.labels[i] as number) - (want.labels[id] as number)) < 1e-6, id);
    }
  });

  it('without folds.json: a DataError naming the folder and folds.json; folds may be passed', async () => {
    const bare = path.join(tmp, 'bare');
    rmSync(bare, { recursive: true, force: true });
    mkdirSync(bare);
    for (const f of readdirSync(folder).filter((f) => f !== 'folds.json'))
      copyFileSync(path.join(folder, f), path.join(bare, f));
    await assert.rejects(
      loadDataset(bare),
      (err: unknown) =>
        err instanceof DataError && err.message.includes(bare) && /folds\.json/.test(err.message),
    );
    const ds = await loadDataset(bare, { folds: { train: ['v1'], test: ['v4'] } });
    assert.deepEqual(
      SPLITS.map((s) => ds.splits[s].size),
      [3, 0, 1],
    );
  });

  it('a bad folds.json names the file and the split', async () => {
    const bad = path.join(tmp, 'badfolds');
    mkdirSync(bad, { recursive: true });
    for (const f of readdirSync(folder).filter((f) => f !== 'folds.json'))
      copyFileSync(path.join(folder, f), path.join(bad, f));
    writeFileSync(path.join(bad, 'folds.json'), JSON.stringify({ train: ['v1'], dev: ['v2'] }));
    await assert.rejects(loadDataset(bad), /folds\.json: unknown split "dev"/);
  });

  it('inspectDataset shows the folder sequences and its splits', async () => {
    const report = await inspectDataset(folder);
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.format, 'csd');
    assert.equal(report.sequences.length, 4);
    assert.deepEqual(
      report.splits.map((s) => [s.name, s.size]),
      SPLITS.map((s) => [s, want.sizes[s]]),
    );
  });
});
