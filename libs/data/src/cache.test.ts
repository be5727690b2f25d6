import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { cacheKey, loadOrBuildCached, sourceDigest, type DatasetCacheOptions } from './cache.js';
import { generateSyntheticDataset } from './synthetic/synthesize.js';
import type { MsaDataset } from './types.js';

const dir = mkdtempSync(path.join(tmpdir(), 'data-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const source = path.join(dir, 'source.bin');
writeFileSync(source, 'pretend this is unaligned_50.pkl');
const cacheDir = path.join(dir, 'cache');

/** A build that counts its calls; the dataset depends on the options' seed. */
function setup(seed: number): { opts: DatasetCacheOptions; builds: () => number } {
  let n = 0;
  return {
    opts: {
      cacheDir,
      source,
      options: { maxLength: 50, seed },
      build: () => {
        n++;
        const { dataset } = generateSyntheticDataset({ like: 'mosi', scale: 0.01, seed });
        dataset.notes = {
          nonFiniteZeroed: seed,
          negInfAcousticZeroed: 0,
          zeroLengthsRaised: 1,
          paddingZeroed: 0,
          warnings: ['kept through the cache'],
        };
        return Promise.resolve(dataset);
      },
    },
    builds: () => n,
  };
}

function sameDataset(a: MsaDataset, b: MsaDataset): void {
  assert.deepEqual({ ...a, splits: undefined }, { ...b, splits: undefined });
  for (const s of ['train', 'valid', 'test'] as const) {
    // Compare as plain arrays: cached columns are views of the file's bytes.
    const plain = (d: MsaDataset['splits']['train']): unknown =>
      Object.fromEntries(
        Object.entries(d).map(([k, v]) => [
          k,
          ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v,
        ]),
      );
    assert.deepEqual(plain(a.splits[s]), plain(b.splits[s]));
  }
}

describe('dataset cache', () => {
  it('misses, stores, then hits with identical columns', async () => {
    const { opts, builds } = setup(1);
    const first = await loadOrBuildCached(opts);
    assert.equal(first.hit, false);
    assert.equal(first.missReason, 'absent');
    const second = await loadOrBuildCached(opts);
    assert.equal(second.hit, true);
    assert.equal(builds(), 1);
    assert.equal(second.key, first.key);
    sameDataset(second.dataset, first.dataset);
    assert.deepEqual(second.dataset.notes?.warnings, ['kept through the cache']);
  });

  it('keys on option values, not their order', async () => {
    const digest = await sourceDigest(source);
    assert.equal(
      cacheKey(digest, { a: 1, b: [1, { c: 2, d: 3 }] }),
      cacheKey(digest, { b: [1, { d: 3, c: 2 }], a: 1 }),
    );
    assert.notEqual(cacheKey(digest, { a: 1 }), cacheKey(digest, { a: 2 }));
    const { opts, builds } = setup(2);
    assert.equal((await loadOrBuildCached(opts)).hit, false);
    assert.equal(builds(), 1);
  });

  it('a changed source file invalidates the entry', async () => {
    const { opts } = setup(1);
    const before = await loadOrBuildCached(opts);
    assert.equal(before.hit, true);
    writeFileSync(source, 'pretend this is unaligned_50.pkl, edited');
    const after = await loadOrBuildCached(opts);
    assert.equal(after.hit, false);
    assert.notEqual(after.key, before.key);
  });

  it('detects a corrupted tensor file or marker and rebuilds', async () => {
    const { opts, builds } = setup(3);
    const { key } = await loadOrBuildCached(opts);
    const tensors = path.join(cacheDir, `${key}.safetensors`);
    const bytes = readFileSync(tensors);
    bytes[bytes.length - 3] = (bytes[bytes.length - 3] ?? 0) ^ 0x40; // one flipped bit in the data
    writeFileSync(tensors, bytes);
    const flipped = await loadOrBuildCached(opts);
    assert.equal(flipped.hit, false);
    assert.match(flipped.missReason ?? '', /sha256/);
    assert.equal((await loadOrBuildCached(opts)).hit, true, 'the rebuilt entry is valid');

    writeFileSync(tensors, readFileSync(tensors).subarray(0, 100)); // truncated
    assert.equal((await loadOrBuildCached(opts)).hit, false);
    writeFileSync(path.join(cacheDir, `${key}.json`), '{"version": 1, "ke'); // torn marker
    const torn = await loadOrBuildCached(opts);
    assert.equal(torn.hit, false);
    assert.match(torn.missReason ?? '', /JSON/);
    assert.equal(builds(), 4);
    const rebuilt = (await loadOrBuildCached(opts)).dataset;
    assert.equal(rebuilt.notes?.nonFiniteZeroed, 3);
    sameDataset(
      { ...rebuilt, notes: undefined },
      {
        ...generateSyntheticDataset({ like: 'mosi', scale: 0.01, seed: 3 }).dataset,
        notes: undefined,
      },
    );
  });

  it('hashes a folder by its files, so adding one invalidates', async () => {
    const folder = path.join(dir, 'csd');
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(path.join(folder, 'sub'), { recursive: true });
    writeFileSync(path.join(folder, 'a.csd'), 'a');
    const d1 = await sourceDigest(folder);
    writeFileSync(path.join(folder, 'sub', 'b.csd'), 'b');
    const d2 = await sourceDigest(folder);
    assert.notEqual(d1, d2);
    assert.equal(await sourceDigest(folder), d2);
  });
});
