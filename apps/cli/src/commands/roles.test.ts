import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { takeTokenFlag } from './roles.js';

describe('mmim worker --token', () => {
  it('moves the token out of the flags (both spellings) and keeps the rest in order', () => {
    assert.deepEqual(takeTokenFlag(['--coordinator', 'h:1', '--token', 'T', '--name', 'w']), {
      args: ['--coordinator', 'h:1', '--name', 'w'],
      token: 'T',
    });
    assert.deepEqual(takeTokenFlag(['--token=abc', '--redis', 'redis://x']), {
      args: ['--redis', 'redis://x'],
      token: 'abc',
    });
  });

  it('leaves flags without a token alone', () => {
    assert.deepEqual(takeTokenFlag(['--token-file', 'f']), {
      args: ['--token-file', 'f'],
      token: null,
    });
  });
});
