import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { packPoints, POINT_BYTES, unpackDownsampled, unpackPoints } from './curve-codec.js';
import { downsample } from './downsample.js';

describe('curve codec', () => {
  const points = Array.from({ length: 5000 }, (_, i) => ({
    step: i,
    value: i === 777 ? Number.NaN : i === 4000 ? 50 : Math.cos(i / 7),
    at: 1_764_000_000_000 + i,
  }));

  it('round-trips points exactly, 24 bytes each, ignoring a partial tail', () => {
    const buf = packPoints(points);
    assert.equal(buf.length, points.length * POINT_BYTES);
    assert.deepEqual(unpackPoints(buf), points);
    // An unaligned view (as Buffer slices from a pool often are) decodes the same.
    const shifted = Buffer.concat([Buffer.from([9]), buf, Buffer.from([1, 2, 3])]).subarray(1);
    assert.deepEqual(unpackPoints(shifted), points);
  });

  it('downsamples while decoding exactly like downsample() on decoded points', () => {
    const buf = packPoints(points);
    for (const max of [2, 3, 100, 999, 5000]) {
      assert.deepEqual(
        unpackDownsampled(buf, max),
        downsample(unpackPoints(buf), max),
        `max ${max}`,
      );
    }
    assert.ok(
      unpackDownsampled(buf, 100).some((p) => p.value === 50),
      'the spike is kept',
    );
    assert.deepEqual(unpackDownsampled(Buffer.alloc(0), 10), []);
  });
});
