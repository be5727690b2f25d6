import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataError } from '../types.js';
import { readDataset } from './index.js';
import { fakeTokenize, fixture } from './test-helpers.js';

describe('readDataset picks the reader from the keys', () => {
  it('MMSA and MMIM-repo pickles', async () => {
    assert.equal((await readDataset(fixture('mmsa_unaligned_p4.pkl'))).format, 'mmsa-pickle');
    const mmim = await readDataset(fixture('mosei_senti_data_noalign.pkl'), {
      tokenize: fakeTokenize,
    });
    assert.equal(mmim.format, 'mmim-pickle');
    assert.equal(mmim.name, 'mosei');
  });
  it('a pickle of neither kind is a DataError', async () => {
    await assert.rejects(readDataset(fixture('zoo_p4.pkl')), (err: unknown) => {
      assert.ok(err instanceof DataError);
      assert.match(err.message, /neither an MMSA nor an MMIM-repo pickle/);
      return true;
    });
  });
});
