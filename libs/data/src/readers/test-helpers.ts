/** Shared by the readers' tests: fixture paths, expected values, a stand-in tokenizer. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Tokenize } from './common.js';

export const fixture = (name: string): string =>
  fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));

export function expected<T>(name: string): T {
  return JSON.parse(readFileSync(fixture(`expected/${name}.json`), 'utf8')) as T;
}

/** [CLS] one id per word [SEP], padded to 50: enough to check which text reached the tokenizer. */
export const fakeTokenize: Tokenize = (text) => {
  const L = 50;
  const words = text.split(' ').filter((w) => w.length > 0);
  const ids = new Int32Array(L);
  const mask = new Int32Array(L);
  const body = [101, ...words.map((w) => 1000 + w.length), 102].slice(0, L);
  body.forEach((id, i) => {
    ids[i] = id;
    mask[i] = 1;
  });
  return { ids, mask, types: new Int32Array(L) };
};

export function assertClose(
  actual: ArrayLike<number>,
  want: readonly number[],
  message: string,
  tol = 1e-6,
): void {
  assert.equal(actual.length, want.length, `${message}: length`);
  for (let i = 0; i < want.length; i++) {
    const a = actual[i] as number;
    const w = want[i] as number;
    if (!(Math.abs(a - w) <= tol * Math.max(1, Math.abs(w))))
      assert.fail(`${message}: index ${i}: ${a} vs ${w}`);
  }
}
