import type { Logger } from '@mmim/runtime';
import { ControlPlane } from './control-plane.js';
import type { CoordinatorConfig } from './options.js';
import { dashboardDir } from './dashboard-files.js';

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
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down');
    void plane.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  return plane;
}
