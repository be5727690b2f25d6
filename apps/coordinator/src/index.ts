/**
 * @mmim/coordinator — the coordinator as a library, for `mmim coordinator` / `mmim up`:
 * `runCoordinator(parseConfig(argv, env), log)`, or `ControlPlane.start(...)` in-process.
 * `main.ts` is the same as a plain script.
 */
export {
  parseConfig,
  readToken,
  USAGE,
  DEFAULT_HTTP_PORT,
  type CoordinatorConfig,
} from './options.js';
export { runCoordinator } from './run.js';
export { ControlPlane, type ControlPlaneOptions, type LoneTrialInput } from './control-plane.js';
export { Coordinator, type CoordinatorOptions, type TlsFiles } from './coordinator.js';
export { SweepActionError, type SweepDeletion } from './http/index.js';
