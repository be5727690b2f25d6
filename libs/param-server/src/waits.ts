/**
 * Waiting on Redis streams with deadlines. Every wait is sliced into short XREAD BLOCK calls so a
 * deadline is honoured within ~1 s even if nothing arrives, and never busy-polls.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from './client.js';

/** Longest single XREAD BLOCK; bounds how late a deadline can be noticed. */
const BLOCK_SLICE_MS = 1000;

/** Fields of a stream entry (`[k1, v1, k2, v2, ...]`) as a record. */
export function entryFields(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string;
  return out;
}

/**
 * Read `key` from its first entry, feeding each entry to `onEntry` until it returns true.
 * Returns false if `deadline` (epoch ms) passes first. `blocking` must be a connection used for
 * nothing else: XREAD BLOCK holds it.
 */
export async function readStreamUntil(
  blocking: RedisClient,
  key: string,
  deadline: number,
  onEntry: (fields: Record<string, string>) => boolean,
): Promise<boolean> {
  let lastId = '0';
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return false;
    const block = Math.max(1, Math.min(remaining, BLOCK_SLICE_MS));
    const res = await blocking.xread('COUNT', 1000, 'BLOCK', block, 'STREAMS', key, lastId);
    for (const [, entries] of res ?? []) {
      for (const [id, flat] of entries) {
        lastId = id;
        if (onEntry(entryFields(flat))) return true;
      }
    }
  }
}

/** Poll `check` with exponential backoff (for rare one-off waits such as initialisation). */
export async function pollUntil<T>(
  check: () => Promise<T | null>,
  deadline: number,
): Promise<T | null> {
  let delay = 20;
  for (;;) {
    const v = await check();
    if (v !== null) return v;
    const remaining = deadline - Date.now();
    if (remaining <= 0) return null;
    await sleep(Math.min(delay, remaining));
    delay = Math.min(delay * 2, 500);
  }
}
