/**
 * The store's Lua scripts. The record's compare-and-set of its JSON, optionally with the list that
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

/** EVALSHA, falling back to EVAL once when the server does not know the script yet. */
async function runScript(
  redis: Redis | Cluster,
  script: string,
  sha: string,
  keys: string[],
  args: string[],
): Promise<unknown> {
  try {
    return await redis.evalsha(sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
    return redis.eval(script, keys.length, ...keys, ...args);
  }
}

/**
 * Raise a trial's attempt fence: checkpoint writes of older attempts are refused from then on.
 * KEYS[1]  the fence key (string: the highest attempt that has started)
 * ARGV[1]  this attempt
 * Returns the fence after the call (>= ARGV[1], or higher when a newer attempt already started).
 */
const FENCE_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local mine = tonumber(ARGV[1])
if mine > current then
  redis.call('SET', KEYS[1], ARGV[1])
  return mine
end
return current
`;
const FENCE_SHA = createHash('sha1').update(FENCE_SCRIPT).digest('hex');

export async function raiseFence(
  redis: Redis | Cluster,
  key: string,
  attempt: number,
): Promise<number> {
  return Number(await runScript(redis, FENCE_SCRIPT, FENCE_SHA, [key], [String(attempt)]));
}

/**
 * Point a checkpoint at a fully written new version, unless a newer attempt owns the trial.
 * KEYS[1]  the checkpoint's pointer hash
 * KEYS[2]  the trial's attempt fence (see FENCE_SCRIPT)
 * ARGV[1]  the writer's attempt, or '' for an unfenced write
 * ARGV[2..] the new pointer's fields, as field, value, field, value ...
 * Returns {previous artifact store, previous artifact key} ('' when there was none) once
 * swapped, or -1 when the fence is above the writer's attempt (nothing changed).
 */
const SWAP_SCRIPT = `
if ARGV[1] ~= '' then
  local fence = tonumber(redis.call('GET', KEYS[2]) or '0')
  if fence > tonumber(ARGV[1]) then return -1 end
end
local previous = redis.call('HMGET', KEYS[1], 'store', 'key')
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return {previous[1] or '', previous[2] or ''}
`;
const SWAP_SHA = createHash('sha1').update(SWAP_SCRIPT).digest('hex');

/**
 * The artifact the pointer named before (null when none), or 'stale' when a newer attempt owns
 * the trial.
 */
export async function swapCheckpoint(
  redis: Redis | Cluster,
  pointerKey: string,
  fenceKey: string,
  attempt: number | null,
  fields: Record<string, string>,
): Promise<{ store: string; key: string } | null | 'stale'> {
  const args = [attempt === null ? '' : String(attempt), ...Object.entries(fields).flat()];
  const result = await runScript(redis, SWAP_SCRIPT, SWAP_SHA, [pointerKey, fenceKey], args);
  if (result === -1) return 'stale';
  const [store, key] = result as [string | null, string | null];
  return !store || !key ? null : { store, key };
}
