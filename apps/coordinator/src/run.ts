import type { Logger } from '@mmim/runtime';
import { ControlPlane } from './control-plane.js';
import type { CoordinatorConfig } from './options.js';
import { dashboardDir } from './dashboard-files.js';

/** How long a SIGTERM/SIGINT waits for a clean close before the process exits anyway. */
export const SHUTDOWN_GRACE_MS = 10_000;

/**
 * Starts the whole coordinator, prints the address line, and stops cleanly on SIGTERM/SIGINT.
 * Shared by main.ts and `mmim coordinator`.
 */
export async function runCoordinator(
  config: CoordinatorConfig,
  log: Logger,
): Promise<ControlPlane> {
  const plane = await ControlPlane.start({
    ...config,
    dashboardDir: await dashboardDir(log),
    log,
  });
  const { address, port } = plane.coordinator;
  log.info(
    { address, http: plane.httpUrl, leaseMs: config.leaseMs, tls: config.tls !== undefined },
    'coordinator listening',
  );
  process.stdout.write(
    `${JSON.stringify({ event: 'listening', address, port, http: plane.httpUrl })}\n`,
  );
  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) {
      log.warn({ signal }, 'second signal while shutting down: exiting now');
      process.exit(1);
    }
    closing = true;
    log.info({ signal }, 'shutting down');
    // Closing waits on Redis (the queue's and the store's last writes): with Redis unreachable
    // it would wait forever, and a coordinator that ignores SIGTERM is one an operator must
    // SIGKILL. Kubernetes' default grace period is 30 s.
    const timer = setTimeout(() => {
      log.error(
        { signal, graceMs: SHUTDOWN_GRACE_MS },
        'shutdown did not finish in time (is Redis reachable?): exiting without it',
      );
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    timer.unref();
    plane.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  return plane;
}
