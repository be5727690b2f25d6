/**
 * The dashboard's JSON API (docs/dashboard-api.md): reads go to the experiment store and the
 * checkpoint store, the sweep actions to the coordinator's SweepControl.
 */
import { Readable } from 'node:stream';
import {
  METRICS,
  isValidRecordId,
  type CheckpointStore,
  type ExperimentStoreApi,
  type SweepRecord,
  type TrialRecord,
} from '@mmim/experiments';
import type { Logger } from '@mmim/runtime';
import { SweepConfigError } from '@mmim/sweep';
import type { FastifyInstance } from 'fastify';
import { bestHistory, importance, parallelRows } from './analysis.js';
import { SWEEP_ACTIONS, type SweepControl } from './control.js';
import { HttpError } from './errors.js';
import { intParam, listParam, stringParam, trialQuery, type Query } from './query.js';
import { parseLoneTrialRequest } from './trial-request.js';

export interface ApiDeps {
  store: ExperimentStoreApi;
  checkpoints: CheckpointStore;
  control: SweepControl;
  version: string;
  log: Logger;
}

/** A cursor the store handed out (opaque to clients; today a point count). */
const CURSOR = /^\d{1,15}$/;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * POST /api/sweeps body: `{yaml: string, source?: string}`; `source` (the file's name, as the
 * CLI sends it) starts every error message about the file.
 */
function sweepBody(body: unknown): { yaml: string; source: string | null } {
  const yaml = isPlainObject(body) ? body['yaml'] : undefined;
  if (typeof yaml !== 'string' || yaml.trim() === '') {
    throw new HttpError(400, 'body field yaml must be the sweep file text (a non-empty string)');
  }
  const source = isPlainObject(body) ? body['source'] : undefined;
  if (source === undefined) return { yaml, source: null };
  // eslint-disable-next-line no-control-regex
  if (typeof source !== 'string' || !/^[^\u0000-\u001f\u007f]{1,300}$/.test(source)) {
    throw new HttpError(400, 'body field source must be a file name (1-300 printable characters)');
  }
  return { yaml, source };
}

function idParam(params: unknown): string {
  const id = (params as { id?: unknown }).id;
  return typeof id === 'string' ? id : '';
}

async function sweepOr404(store: ExperimentStoreApi, id: string): Promise<SweepRecord> {
  const sweep = isValidRecordId(id) ? await store.getSweep(id) : null;
  if (sweep === null) throw new HttpError(404, `unknown sweep ${JSON.stringify(id)}`);
  return sweep;
}

async function trialOr404(store: ExperimentStoreApi, id: string): Promise<TrialRecord> {
  const trial = isValidRecordId(id) ? await store.getTrial(id) : null;
  if (trial === null) throw new HttpError(404, `unknown trial ${JSON.stringify(id)}`);
  return trial;
}

/** A file-name-safe form of an id for Content-Disposition. */
function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, '_');
}

export function registerApiRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { store, checkpoints, control } = deps;

  app.get('/api/health', async () => ({ ok: true, version: deps.version }));

  // The metric table (names, labels, goals, formats): the dashboard builds its columns from it.
  app.get('/api/metrics', async () => ({ metrics: METRICS }));

  app.get('/api/sweeps', async () => {
    const sweeps = await store.listSweeps();
    const counts = await Promise.all(sweeps.map((s) => store.sweepCounts(s.id)));
    return { sweeps: sweeps.map((s, i) => ({ ...s, counts: counts[i] })) };
  });

  app.get('/api/sweeps/:id', async (req) => {
    const sweep = await sweepOr404(store, idParam(req.params));
    return { sweep, counts: await store.sweepCounts(sweep.id) };
  });

  app.get('/api/sweeps/:id/trials', async (req) => {
    const query = trialQuery(req.query as Query);
    const sweep = await sweepOr404(store, idParam(req.params));
    return store.listTrials(sweep.id, query);
  });

  app.get('/api/sweeps/:id/best-history', async (req) => {
    const sweep = await sweepOr404(store, idParam(req.params));
    const { trials } = await store.listTrials(sweep.id);
    return { points: bestHistory(sweep, trials) };
  });

  app.get('/api/sweeps/:id/importance', async (req) => {
    const sweep = await sweepOr404(store, idParam(req.params));
    const { trials } = await store.listTrials(sweep.id);
    return { method: 'spearman', params: importance(sweep, trials) };
  });

  app.get('/api/sweeps/:id/parallel', async (req) => {
    const sweep = await sweepOr404(store, idParam(req.params));
    const { trials } = await store.listTrials(sweep.id);
    return parallelRows(sweep, trials);
  });

  app.get('/api/sweeps/:id/events', async (req) => {
    const sweep = await sweepOr404(store, idParam(req.params));
    return { events: await store.sweepEvents(sweep.id) };
  });

  for (const action of SWEEP_ACTIONS) {
    app.post(`/api/sweeps/:id/${action}`, { config: { admin: true } }, async (req, reply) => {
      const id = idParam(req.params);
      if (!isValidRecordId(id)) throw new HttpError(404, `unknown sweep ${JSON.stringify(id)}`);
      const sweep = await control[action](id);
      deps.log.info({ sweepId: id, action }, 'sweep action from the API');
      return reply.code(202).send({ sweep });
    });
  }

  app.delete('/api/sweeps/:id', { config: { admin: true } }, async (req) => {
    const id = idParam(req.params);
    if (!isValidRecordId(id)) throw new HttpError(404, `unknown sweep ${JSON.stringify(id)}`);
    const deleted = await control.deleteSweep(id);
    deps.log.info({ ...deleted }, 'sweep deleted from the API');
    return { deleted };
  });

  app.post('/api/sweeps', { config: { admin: true } }, async (req, reply) => {
    const { yaml, source } = sweepBody(req.body);
    const sweep = await control.createSweep(yaml).catch((err: unknown) => {
      // The file's problems, all of them, under the name the caller knows the file by.
      throw err instanceof SweepConfigError && source !== null
        ? new SweepConfigError(err.issues, source)
        : err;
    });
    deps.log.info({ sweepId: sweep.id }, 'sweep created from the API');
    return reply.code(201).send({ sweep });
  });

  app.post('/api/trials', { config: { admin: true } }, async (req, reply) => {
    const trial = await control.createTrial(await parseLoneTrialRequest(req.body));
    return reply.code(201).send({ trial });
  });

  app.delete('/api/trials/:id', { config: { admin: true } }, async (req, reply) => {
    const id = idParam(req.params);
    if (!isValidRecordId(id)) throw new HttpError(404, `unknown trial ${JSON.stringify(id)}`);
    const trial = await control.cancelTrial(id);
    deps.log.info({ trialId: id }, 'trial cancelled from the API');
    return reply.code(202).send({ trial });
  });

  app.get('/api/trials', async (req) => store.listTrials(null, trialQuery(req.query as Query)));

  app.get('/api/trials/:id', async (req) => {
    const trial = await trialOr404(store, idParam(req.params));
    const [epochs, events, last, best] = await Promise.all([
      store.epochs(trial.id),
      store.events(trial.id),
      checkpoints.info(trial.id, 'last'),
      checkpoints.info(trial.id, 'best'),
    ]);
    return { trial, epochs, events, checkpoint: { last, best } };
  });

  app.get('/api/trials/:id/curves', async (req) => {
    const query = req.query as Query;
    const maxPoints = intParam(query, 'maxPoints', { min: 2, max: 5000, default: 1000 });
    const requested = listParam(query, 'names');
    const after = listParam(query, 'after');
    const trial = await trialOr404(store, idParam(req.params));
    const known = await store.curveNames(trial.id);
    const names = requested === undefined || requested.length === 0 ? known : requested;
    for (const n of names) {
      if (!known.includes(n)) {
        throw new HttpError(
          404,
          `trial ${JSON.stringify(trial.id)} has no curve ${JSON.stringify(n)}`,
        );
      }
    }
    // `after`: one cursor for every name (the dashboard groups curves whose cursors are equal)
    // or one per name, in the order of `names`.
    if (after !== undefined) {
      if (requested === undefined || (after.length !== 1 && after.length !== requested.length)) {
        throw new HttpError(
          400,
          'query parameter after needs names, and one cursor for all of them or one per name',
        );
      }
      const bad = after.find((c) => !CURSOR.test(c));
      if (bad !== undefined) {
        throw new HttpError(400, `query parameter after: bad cursor ${JSON.stringify(bad)}`);
      }
    }
    const curves = await Promise.all(
      names.map((name, i) =>
        store.curve(
          trial.id,
          name,
          after === undefined
            ? { maxPoints }
            : { maxPoints, after: (after[i] ?? after[0]) as string },
        ),
      ),
    );
    return { curves };
  });

  app.get('/api/trials/:id/checkpoint', async (req, reply) => {
    const kind = stringParam(req.query as Query, 'kind') ?? 'last';
    if (kind !== 'last' && kind !== 'best') {
      throw new HttpError(
        400,
        `query parameter kind must be last or best, got ${JSON.stringify(kind)}`,
      );
    }
    const trial = await trialOr404(store, idParam(req.params));
    // Streamed chunk by chunk: a BERT-base checkpoint is over a gigabyte.
    const ckpt = await checkpoints.open(trial.id, kind);
    if (ckpt === null) {
      throw new HttpError(404, `trial ${JSON.stringify(trial.id)} has no ${kind} checkpoint`);
    }
    const file = `trial-${safeName(trial.id)}-${kind}-epoch${ckpt.epoch}.safetensors`;
    return reply
      .header('Content-Type', 'application/octet-stream')
      .header('Content-Length', String(ckpt.bytes))
      .header('Content-Disposition', `attachment; filename="${file}"`)
      .header('X-Checkpoint-Sha256', ckpt.sha256)
      .header('X-Checkpoint-Epoch', String(ckpt.epoch))
      .send(Readable.from(ckpt.chunks()));
  });

  app.get('/api/workers', async () => ({ workers: await store.listWorkers() }));
}
