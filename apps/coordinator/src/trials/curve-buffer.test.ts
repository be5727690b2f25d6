import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryExperimentStore, fixtureTrial } from '@mmim/experiments/testing';
import { CurveBuffer } from './curve-buffer.js';

describe('CurveBuffer', () => {
  it('keeps finite points and writes them in one batch per trial', async () => {
    const store = new MemoryExperimentStore();
    await store.putTrial(fixtureTrial({ id: 'a' }));
    await store.putTrial(fixtureTrial({ id: 'b' }));
    const writes: string[] = [];
    const append = store.appendPoints.bind(store);
    store.appendPoints = async (id, points) => {
      writes.push(`${id}:${points.length}`);
      return append(id, points);
    };
    const buffer = new CurveBuffer();
    for (let step = 0; step < 3; step++)
      buffer.add('a', { name: 'train/loss', step, value: 1, at: 0 });
    assert.equal(buffer.add('a', { name: 'train/loss', step: 3, value: Number.NaN, at: 0 }), false);
    buffer.add('b', { name: 'lr/main', step: 0, value: 1e-3, at: 0 });
    assert.equal(buffer.pending, 4);
    await buffer.flush(store);
    assert.deepEqual(writes, ['a:3', 'b:1']);
    assert.equal(buffer.pending, 0);
    await buffer.flush(store);
    assert.equal(writes.length, 2, 'nothing to write: no write');
    assert.equal((await store.curve('a', 'train/loss')).total, 3);
  });
});
