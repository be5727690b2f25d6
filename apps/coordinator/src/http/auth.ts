/**
 * Bearer-token checks for the dashboard API. Tokens are compared in constant time: both sides
 * are hashed to 32 bytes first, so neither the content nor the length of the admin token
 * leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export class TokenCheck {
  private readonly expected: Buffer;

  constructor(token: string) {
    if (token.length === 0) throw new Error('the admin token must not be empty');
    this.expected = digest(token);
  }

  /** True when `given` is the token. */
  matches(given: string | null): boolean {
    if (given === null) return false;
    return timingSafeEqual(digest(given), this.expected);
  }
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m === null ? null : (m[1] ?? null);
}
