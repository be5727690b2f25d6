/**
 * @mmim/cli as a library: the local cluster (Redis, coordinator, workers as child processes)
 * and the client of the coordinator's API, for the cross-app tests and benchmarks. The `mmim`
 * command itself is src/main.ts (bin/mmim.js).
 */
export {
  COORDINATOR_MAIN,
  LocalCluster,
  StartAborted,
  WORKER_MAIN,
  type ChildHandle,
  type LocalClusterOptions,
} from './cluster/local-cluster.js';
export { ApiClient, ApiError, resolveApiTarget, type ApiTarget } from './cluster/api-client.js';
