/**
 * The checkpoint GC over HTTP: `GET /api/sweeps/:id/gc` is the plan (what the sweep's retention
 * policy would delete and keep, with reasons and bytes; nothing changes), `POST` runs it now
 * (admin). `mmim sweep gc ID [--dry-run]` calls these.
 */
import { isValidRecordId, type ExperimentStoreApi, type SweepId } from '@mmim/experiments';
import type { FastifyInstance } from 'fastify';
import type { SweepGcReport } from '../retention/checkpoint-gc.js';
import { HttpError } from './errors.js';

export interface CheckpointGcControl {
  collect(sweepId: SweepId, options: { dryRun: boolean }): Promise<SweepGcReport>;
}

export function registerGcRoutes(
  app: FastifyInstance,
  deps: { store: ExperimentStoreApi; gc: CheckpointGcControl },
): void {
  const run = async (params: unknown, dryRun: boolean): Promise<{ gc: SweepGcReport }> => {
    const id = (params as { id?: unknown }).id;
    const sweep =
      typeof id === 'string' && isValidRecordId(id) ? await deps.store.getSweep(id) : null;
    if (sweep === null) throw new HttpError(404, `unknown sweep ${JSON.stringify(id)}`);
    return { gc: await deps.gc.collect(sweep.id, { dryRun }) };
  };
  app.get('/api/sweeps/:id/gc', async (req) => run(req.params, true));
  app.post('/api/sweeps/:id/gc', { config: { admin: true } }, async (req) =>
    run(req.params, false),
  );
}
