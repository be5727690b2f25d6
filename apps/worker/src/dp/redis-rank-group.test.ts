/** Row-sparse exchange of the embedding gradient sums exactly as the dense rank-ordered sum. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeRows, sumRows } from './redis-rank-group.js';

describe('row-sparse gradient exchange', () => {
  it('equals the dense sum in rank order, bit for bit, and sends only non-zero rows', () => {
    const width = 4;
    const rows = 50;
    const parts = [0, 1, 2].map((r) => {
      const g = new Float32Array(rows * width);
      for (const row of [3, 7 + r, 20, 49 - r])
        for (let k = 0; k < width; k++)
          g[row * width + k] = Math.fround(Math.sin(row * 7 + k + r) / 3);
      return g;
    });
    const dense = new Float32Array(rows * width);
    for (const p of parts) p.forEach((x, i) => (dense[i] = dense[i]! + x));
    const encoded = parts.map((p) => encodeRows(p, width));
    assert.equal(encoded[0]?.length, 4 + 4 * 4 + 4 * width * 4, 'four rows travel, not fifty');
    assert.deepEqual(sumRows(encoded, rows * width, width), dense);
  });
});
