import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EarlyStopping, ReduceLROnPlateau } from './schedulers.js';

describe('epoch schedulers', () => {
  it('halves the LR after `patience` epochs without a relative improvement of 1e-4 (torch semantics)', () => {
    const s = new ReduceLROnPlateau(2);
    // 1.0 best; 0.99995 is not better by 1e-4 relative -> bad; then two more bad -> reduce.
    assert.deepEqual(
      [1.0, 0.99995, 1.2, 1.1].map((m) => s.step(m)),
      [1, 1, 1, 0.5],
    );
    assert.equal(s.state.badEpochs, 0);
    assert.equal(s.step(0.5), 1);
    assert.equal(ReduceLROnPlateau.reduced(1e-3, 0.5), 5e-4);
    assert.equal(ReduceLROnPlateau.reduced(1e-8, 0.5), 1e-8);
  });

  it('stops after `patience` epochs without a lower valid loss, resetting on improvement', () => {
    const e = new EarlyStopping(2);
    assert.equal(e.update(1), true);
    assert.equal(e.update(1.1), false);
    assert.equal(e.shouldStop, false);
    assert.equal(e.update(0.9), true);
    e.update(1);
    e.update(1);
    assert.equal(e.shouldStop, true);
  });
});
