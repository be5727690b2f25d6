/**
 * The Lua scripts (one file each under ./lua, header documents KEYS/ARGV) registered on a
 * client with `defineCommand`, so ioredis sends EVALSHA and falls back to EVAL after a server
 * restart flushed the script cache.
 */
import { readFileSync } from 'node:fs';
import type { RedisClient } from './client.js';

type Arg = string | number | Buffer;

/** The commands defineCommand adds; declared here because ioredis cannot type them. */
export interface ScriptCommands {
  psInitBegin(
    versionKey: string,
    lockKey: string,
    token: string,
    lockTtlMs: number,
  ): Promise<number>;
  psInitCommit(...args: Arg[]): Promise<number>;
  psApplyChunk(...args: Arg[]): Promise<[number, number]>;
  psLiveFence(fenceKey: string, attempt: number): Promise<number>;
  psLiveCommit(headKey: string, fenceKey: string, attempt: number, head: string): Promise<number>;
}

const SCRIPTS: Record<keyof ScriptCommands, { file: string; keys: number }> = {
  psInitBegin: { file: 'init-begin.lua', keys: 2 },
  psInitCommit: { file: 'init-commit.lua', keys: 4 },
  psApplyChunk: { file: 'apply-chunk.lua', keys: 7 },
  psLiveFence: { file: 'live-fence.lua', keys: 1 },
  psLiveCommit: { file: 'live-commit.lua', keys: 2 },
};

const sources = new Map<string, string>();

function source(file: string): string {
  let s = sources.get(file);
  if (s === undefined) {
    s = readFileSync(new URL(`./lua/${file}`, import.meta.url), 'utf8');
    sources.set(file, s);
  }
  return s;
}

/** Register the scripts on `client` (idempotent) and return it typed with them. */
export function withScripts(client: RedisClient): RedisClient & ScriptCommands {
  for (const [name, def] of Object.entries(SCRIPTS)) {
    client.defineCommand(name, { lua: source(def.file), numberOfKeys: def.keys });
  }
  return client as RedisClient & ScriptCommands;
}
