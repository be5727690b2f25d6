/**
 * loadDataset: a folder resolves to its dataset file and vocab.txt; the on-disk cache is hit on
 * the second load, gives the same tensors, and is rebuilt when the file changes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadDataset, resolveDatasetFile } from './load.js';
import { synthesizeDataset } from './synthetic/synthesize.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-load-'));

describe('loadDataset', () => {
  it('resolves a folder, tokenises with its vocab, and caches by content', async () => {
    const dir = path.join(tmp, 'synth');
    await synthesizeDataset({ like: 'mosi', scale: 0.02, seed: 3, out: dir });
    assert.equal(resolveDatasetFile(dir), path.join(dir, 'unaligned_50.pkl'));
    const plain = await loadDataset(dir);
    const cacheDir = path.join(tmp, 'cache');
    const first = await loadDataset(dir, { cacheDir });
    const entries = fs.readdirSync(cacheDir);
    assert.ok(entries.length > 0, 'nothing cached');
    const second = await loadDataset(dir, { cacheDir });
    for (const s of ['train', 'valid', 'test'] as const) {
      assert.deepEqual(second.splits[s].acoustic, plain.splits[s].acoustic);
      assert.deepEqual(second.splits[s].bertIds, first.splits[s].bertIds);
      assert.deepEqual(second.splits[s].labels, plain.splits[s].labels);
    }
    assert.deepEqual(fs.readdirSync(cacheDir), entries, 'a hit must not write a new entry');
    // A changed source file is a new key.
    await synthesizeDataset({ like: 'mosi', scale: 0.02, seed: 4, out: dir });
    const changed = await loadDataset(dir, { cacheDir });
    assert.notDeepEqual(changed.splits.train.labels, plain.splits.train.labels);
    assert.ok(fs.readdirSync(cacheDir).length > entries.length);
  });

  it('names what is missing', async () => {
    await assert.rejects(loadDataset(path.join(tmp, 'nothing-here')), /no such file or folder/);
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    await assert.rejects(
      loadDataset(empty),
      /no dataset file in this folder \(looked for unaligned_50\.pkl/,
    );
  });
});
