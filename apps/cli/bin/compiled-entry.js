// Which `mmim` to run: the compiled CLI (apps/cli/dist, written by scripts/build.mjs at
// `npm install`/`npm ci`) while every source compiled into it is unchanged, else null (run the
// TypeScript sources). Plain JavaScript: it runs before any loader, on every `mmim` start.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { URL, fileURLToPath } from 'node:url';

const DIST = new URL('../dist/', import.meta.url);

/**
 * The compiled entry's file URL, or null when there is none, it is stale (a compiled source was
 * edited, moved or deleted since the build) or MMIM_CLI_FROM_SOURCE=1 asks for the sources.
 * @param {URL} [dist] the build's folder (a file URL ending in /)
 * @returns {string | null}
 */
export function compiledEntry(dist = DIST) {
  if (process.env.MMIM_CLI_FROM_SOURCE === '1') return null;
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(new URL('manifest.json', dist), 'utf8'));
  } catch {
    return null; // not built
  }
  if (typeof manifest?.entry !== 'string' || typeof manifest.sources !== 'object') return null;
  for (const [file, digest] of Object.entries(manifest.sources)) {
    let bytes;
    try {
      bytes = readFileSync(fileURLToPath(new URL(file, dist)));
    } catch {
      return null;
    }
    if (sourceDigest(bytes) !== digest) return null;
  }
  return new URL(manifest.entry, dist).href;
}

/**
 * What the manifest records per compiled source (scripts/build.mjs writes it with this).
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function sourceDigest(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}
