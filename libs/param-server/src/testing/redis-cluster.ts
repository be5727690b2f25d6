/**
 * A throwaway Redis Cluster for tests: `masters` redis-servers with `--cluster-enabled yes` on free
 * loopback ports (each in its own temp dir, no persistence), joined by hand (slots split evenly
 * with CLUSTER ADDSLOTSRANGE, then CLUSTER MEET), ready once every node reports
 * `cluster_state:ok`. No replicas: the tests need slot routing, not failover.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, Redis } from 'ioredis';
import { freePort, launch, terminate } from './redis-process.js';

const SLOTS = 16384;
/** Redis Cluster's node-to-node bus listens on the client port + 10000. */
const BUS_OFFSET = 10000;

export interface RedisClusterOptions {
  /** Master nodes; default 3 (the smallest cluster redis-cli would create). */
  masters?: number;
  /** redis-server binary; default `redis-server` on PATH. */
  binary?: string;
  /** How long to wait for `cluster_state:ok` (ms); default 30 s. */
  readyTimeoutMs?: number;
}

export interface RedisClusterHandle {
  /** The masters' client ports, slot ranges in this order. */
  readonly ports: readonly number[];
  /** A new cluster client (the caller closes it). */
  client(): Cluster;
  /** Stop every node and remove their dirs (safe to call twice). */
  stop(): Promise<void>;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A free port whose bus port (+10000) is free too. */
async function freeClusterPort(taken: ReadonlySet<number>): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const p = await freePort();
    if (p + BUS_OFFSET > 65535 || taken.has(p) || taken.has(p + BUS_OFFSET)) continue;
    if (await portIsFree(p + BUS_OFFSET)) return p;
  }
  throw new Error('startRedisCluster: found no free port pair (P, P + 10000) on 127.0.0.1');
}

async function clusterReady(nodes: readonly Redis[], masters: number): Promise<boolean> {
  for (const n of nodes) {
    const info = await n.cluster('INFO');
    if (!info.includes('cluster_state:ok')) return false;
    if (!info.includes(`cluster_known_nodes:${masters}`)) return false;
  }
  return true;
}

export async function startRedisCluster(
  opts: RedisClusterOptions = {},
): Promise<RedisClusterHandle> {
  const masters = opts.masters ?? 3;
  if (!(Number.isInteger(masters) && masters >= 1))
    throw new Error(`startRedisCluster: masters must be a positive integer, got ${masters}`);
  const binary = opts.binary ?? 'redis-server';
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  const ports: number[] = [];
  const admins: Redis[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const a of admins) a.disconnect();
    await Promise.allSettled(children.map((c) => terminate(c)));
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  };
  try {
    const taken = new Set<number>();
    for (let i = 0; i < masters; i++) {
      const port = await freeClusterPort(taken);
      taken.add(port).add(port + BUS_OFFSET);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-redis-cluster-'));
      dirs.push(dir);
      ports.push(port);
      children.push(
        await launch(binary, port, dir, false, [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          path.join(dir, 'nodes.conf'),
          '--cluster-node-timeout',
          '5000',
        ]),
      );
      admins.push(new Redis({ host: '127.0.0.1', port }));
    }
    // Even slot ranges, distinct config epochs (no epoch-collision round), then introductions.
    for (const [i, a] of admins.entries()) {
      const from = Math.floor((i * SLOTS) / masters);
      const to = Math.floor(((i + 1) * SLOTS) / masters) - 1;
      await a.cluster('ADDSLOTSRANGE', from, to);
      await a.cluster('SET-CONFIG-EPOCH', i + 1);
    }
    for (const port of ports.slice(1)) await admins[0]?.cluster('MEET', '127.0.0.1', port);
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
    while (!(await clusterReady(admins, masters))) {
      if (Date.now() > deadline)
        throw new Error(
          `startRedisCluster: ports ${ports.join(', ')} not cluster_state:ok after ${opts.readyTimeoutMs ?? 30_000} ms`,
        );
      await sleep(50);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    ports,
    client: () => new Cluster(ports.map((port) => ({ host: '127.0.0.1', port }))),
    stop,
  };
}
