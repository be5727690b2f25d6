/** Helpers shared by the backends: walking a body as chunks, hashing, collecting a read. */
import { createHash } from 'node:crypto';
import {
  ArtifactChecksumError,
  ArtifactCorruptError,
  type ArtifactBody,
  type OpenedArtifact,
  type StoredArtifact,
} from './store.js';

export async function* bodyChunks(body: ArtifactBody): AsyncGenerator<Uint8Array> {
  if (body instanceof Uint8Array) {
    yield body;
    return;
  }
  for await (const chunk of body) yield chunk;
}

export const sha256Hex = (data: Uint8Array): string =>
  createHash('sha256').update(data).digest('hex');

export function checkExpected(key: string, expected: string | undefined, actual: string): void {
  if (expected !== undefined && expected !== actual) {
    throw new ArtifactChecksumError(key, expected, actual);
  }
}

/** Reads an opened artifact whole (its iterator checks the sha256). */
export async function readAll(opened: OpenedArtifact): Promise<StoredArtifact> {
  const parts: Buffer[] = [];
  for await (const part of opened.chunks()) parts.push(part);
  const { chunks: _chunks, ...info } = opened;
  return { ...info, data: Buffer.concat(parts) };
}

/**
 * Wraps a chunk source so that the sha256 and length are checked once it is exhausted: the
 * reader learns of a mismatch before it treats the bytes as whole.
 */
export async function* verified(
  location: string,
  key: string,
  expected: { sha256: string; bytes: number },
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const part of source) {
    const buf = Buffer.isBuffer(part)
      ? part
      : Buffer.from(part.buffer, part.byteOffset, part.length);
    hash.update(buf);
    bytes += buf.length;
    yield buf;
  }
  const sha256 = hash.digest('hex');
  if (sha256 !== expected.sha256 || bytes !== expected.bytes) {
    throw new ArtifactCorruptError(
      location,
      key,
      `${bytes} bytes with sha256 ${sha256}, expected ${expected.bytes} bytes with ${expected.sha256}`,
    );
  }
}
