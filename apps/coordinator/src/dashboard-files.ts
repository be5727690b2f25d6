import type { Logger } from '@mmim/runtime';
import { ensureDashboard } from '@mmim/dashboard';

/**
 * The dashboard's static files, built on first start (esbuild, about a second) or reused when
 * up to date. A failed build leaves the API running without pages, and says so.
 */
export async function dashboardDir(log: Logger): Promise<string | null> {
  try {
    return await ensureDashboard();
  } catch (err) {
    log.error({ err }, 'dashboard build failed: serving the API only');
    return null;
  }
}
