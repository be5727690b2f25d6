/**
 * The coordinator's HTTP side: dashboard static files, the JSON/SSE API of
 * docs/dashboard-api.md and Prometheus /metrics.
 *
 * ```ts
 * const metrics = new CoordinatorMetrics();
 * const http = createHttpServer({ store, checkpoints, control, adminToken, readTokenRequired,
 *   staticDir, metrics, log });
 * const { url } = await http.listen('127.0.0.1', 8080);
 * metrics.setQueueDepth(3);
 * await http.close();
 * ```
 */
export {
  API_BODY_LIMIT_BYTES,
  createHttpServer,
  SECURITY_HEADERS,
  type HttpServerHandle,
  type HttpServerOptions,
} from './server.js';
export {
  nextSweepState,
  SWEEP_ACTIONS,
  sweepDeletionRefusal,
  type LoneTrialRequest,
  type SweepAction,
  type SweepControl,
  type SweepDeletion,
} from './control.js';
export { HttpError, SweepActionError, type SweepActionErrorCode } from './errors.js';
export { CoordinatorMetrics, METRIC_NAMES, type WorkerState } from './metrics.js';
