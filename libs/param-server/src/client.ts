/**
 * The connection type this lib works with: one Redis server or a Redis Cluster. Every command
 * and script it sends names keys of a single trial, and every such key carries the trial's
 * `{trial:<id>}` hash tag (keys.ts), so on a cluster each pipeline, MULTI and script stays within
 * one slot and ioredis routes it to the node that owns it.
 */
import type { Cluster, Redis } from 'ioredis';

export type RedisClient = Redis | Cluster;

/**
 * The nodes to SCAN for a key pattern: the server itself, or every master of a cluster (SCAN
 * only sees one node's keys; a trial's keys all live on one of them).
 */
export function scanTargets(client: RedisClient): Redis[] {
  return client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
}

/** A new connection to the same server or cluster (for blocking reads; the caller closes it). */
export function duplicateClient(client: RedisClient): RedisClient {
  return client.isCluster ? (client as Cluster).duplicate() : (client as Redis).duplicate();
}
