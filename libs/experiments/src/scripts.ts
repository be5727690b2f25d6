/**
 * The store's one Lua script: compare-and-set of a record's JSON, optionally with the list that
 * belongs to it (a trial's epochs). TypeScript computes the new record; the script applies it
 * only if nobody changed the record since it was read, so concurrent writers never lose an
 * update, on a single Redis and on Cluster alike (all keys share the record's hash tag; no
 * WATCH, which Cluster clients cannot hold across nodes).
 */
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/**
 * KEYS[1]  the record key (string JSON)
 * KEYS[2]  optional: a list owned by the record
 * ARGV[1]  the JSON the writer read (expected current value)
 * ARGV[2]  the new JSON
 * ARGV[3]  with KEYS[2]: keep this many leading list entries (drop the rest) ...
 * ARGV[4]  ... then RPUSH this entry
 * Returns 1 when applied, 0 when the record had changed (the writer re-reads and retries).
 */
const CAS_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
if #KEYS == 2 then
  local keep = tonumber(ARGV[3])
  if keep == 0 then
    redis.call('DEL', KEYS[2])
  elseif redis.call('LLEN', KEYS[2]) > keep then
    redis.call('LTRIM', KEYS[2], 0, keep - 1)
  end
  redis.call('RPUSH', KEYS[2], ARGV[4])
end
return 1
`;

const CAS_SHA = createHash('sha1').update(CAS_SCRIPT).digest('hex');

/** Runs the compare-and-set; true when it was applied. */
export async function compareAndSet(
  redis: Redis | Cluster,
  key: string,
  expected: string,
  next: string,
  list?: { key: string; keep: number; push: string },
): Promise<boolean> {
  const keys = list === undefined ? [key] : [key, list.key];
  const args =
    list === undefined ? [expected, next] : [expected, next, String(list.keep), list.push];
  let result: unknown;
  try {
    result = await redis.evalsha(CAS_SHA, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
    result = await redis.eval(CAS_SCRIPT, keys.length, ...keys, ...args);
  }
  return result === 1;
}
