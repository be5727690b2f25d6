/** Test helpers: a real redis-server (or a 3-master Redis Cluster) on free ports, per suite. */
export {
  startRedisServer,
  type RedisServerHandle,
  type RedisServerOptions,
} from './redis-server.js';
export {
  startRedisCluster,
  type RedisClusterHandle,
  type RedisClusterOptions,
} from './redis-cluster.js';
