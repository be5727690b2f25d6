import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata, status } from '@grpc/grpc-js';
import { JOIN_TOKEN_METADATA_KEY } from '@mmim/protocol';
import { JoinTokenAuth } from './auth.js';

const md = (...tokens: string[]): Metadata => {
  const m = new Metadata();
  for (const t of tokens) m.add(JOIN_TOKEN_METADATA_KEY, t);
  return m;
};

describe('JoinTokenAuth', () => {
  const auth = new JoinTokenAuth('s3cret-token');

  it('accepts the right token', () => {
    assert.equal(auth.check(md('s3cret-token')), null);
  });

  it('refuses wrong, shorter, longer, missing and repeated tokens with UNAUTHENTICATED', () => {
    for (const [m, why] of [
      [md('wrong'), /wrong join token/],
      [md('s3cret-toke'), /wrong join token/],
      [md('s3cret-token!'), /wrong join token/],
      [md(), /missing join token/],
      [md('s3cret-token', 's3cret-token'), /more than one/],
    ] as const) {
      const err = auth.check(m);
      assert.equal(err?.code, status.UNAUTHENTICATED);
      assert.match(err?.details ?? '', why);
    }
  });

  it('refuses to run with an empty token', () => {
    assert.throws(() => new JoinTokenAuth(''), /empty/);
  });
});
