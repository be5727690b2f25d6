import { createHash, timingSafeEqual } from 'node:crypto';
import { Metadata, status, type ServerErrorResponse } from '@grpc/grpc-js';
import { JOIN_TOKEN_METADATA_KEY } from '@mmim/protocol';

/** Shorter tokens are accepted (tests use them) but are easy to guess; main.ts warns. */
export const RECOMMENDED_TOKEN_LENGTH = 16;

/**
 * Checks the join token every worker call carries in `mmim-join-token` metadata.
 *
 * Both sides are hashed to fixed-length SHA-256 digests before `timingSafeEqual`, which throws
 * on different lengths: comparing digests keeps the comparison constant-time without leaking
 * the token's length.
 */
export class JoinTokenAuth {
  readonly #expected: Buffer;

  constructor(token: string) {
    if (token.length === 0) throw new Error('the join token is empty');
    this.#expected = digest(token);
  }

  /** null when the metadata carries the right token, else the error to answer with. */
  check(metadata: Metadata): ServerErrorResponse | null {
    const values = metadata.get(JOIN_TOKEN_METADATA_KEY);
    if (values.length === 0) {
      return unauthenticated(
        `missing join token: send it in the '${JOIN_TOKEN_METADATA_KEY}' metadata entry`,
      );
    }
    if (values.length > 1) return unauthenticated('more than one join token was sent');
    const given = values[0];
    // A Buffer value would only come from a '-bin' key; treat anything but a string as wrong.
    const ok = typeof given === 'string' && timingSafeEqual(digest(given), this.#expected);
    return ok ? null : unauthenticated('wrong join token');
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function unauthenticated(details: string): ServerErrorResponse {
  return { name: 'Unauthenticated', message: details, code: status.UNAUTHENTICATED, details };
}
