import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRoute } from './router.js';

describe('parseRoute', () => {
  it('maps the hash routes', () => {
    assert.deepEqual(parseRoute(''), { page: 'sweeps' });
    assert.deepEqual(parseRoute('#/'), { page: 'sweeps' });
    assert.deepEqual(parseRoute('#/workers'), { page: 'workers' });
    assert.deepEqual(parseRoute('#/sweeps/s-1'), { page: 'sweep', id: 's-1' });
    assert.deepEqual(parseRoute('#/trials/t%2F7/'), { page: 'trial', id: 't/7' });
  });

  it('reports unknown or malformed routes as not found', () => {
    assert.deepEqual(parseRoute('#/nope'), { page: 'not-found', path: 'nope' });
    assert.deepEqual(parseRoute('#/trials/a/b'), { page: 'not-found', path: 'trials/a/b' });
    assert.deepEqual(parseRoute('#/trials/%E0%A4%A'), {
      page: 'not-found',
      path: 'trials/%E0%A4%A',
    });
  });
});
