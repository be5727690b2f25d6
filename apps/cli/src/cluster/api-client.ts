/**
 * The CLI's client of the coordinator's JSON API (docs/dashboard-api.md): sweeps, trials,
 * actions. Errors carry the API's own message and the HTTP status.
 */
import fs from 'node:fs';
import path from 'node:path';
import type {
  EpochEntry,
  SweepRecord,
  TrialCounts,
  TrialEvent,
  TrialRecord,
  WorkerSnapshot,
} from '@mmim/experiments';
// A type only (erased): the CLI loads none of the coordinator to read its answer.
import type { SweepDeletion } from '@mmim/coordinator';

/** The coordinator's checkpoint GC answer (apps/coordinator SweepGcReport), as the CLI reads it. */
export interface GcReport {
  sweepId: string;
  dryRun: boolean;
  drop: { trialId: string; kind: string; bytes: number; reason: string }[];
  keep: { trialId: string; kind: string; bytes: number; reason: string }[];
  orphans: { key: string; bytes: number }[];
  freedBytes: number;
  ms: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Errors that mean nothing answered at that address (as opposed to a connection that broke). */
const NOT_LISTENING = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ETIMEDOUT',
]);

/**
 * What a failed fetch means. Only a refused or unresolvable address is "cannot reach"; a
 * connection that breaks while the body is sent (a server closing after an early answer) says
 * so with its cause, rather than suggesting the coordinator is not running.
 */
function unreachable(baseUrl: string, err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? cause.code : null;
  const detail = typeof cause?.message === 'string' ? cause.message : (err as Error).message;
  if (code !== null && NOT_LISTENING.has(code))
    return `cannot reach the coordinator at ${baseUrl} (${detail}); is it running?`;
  return `the connection to the coordinator at ${baseUrl} broke before it answered (${detail})`;
}

export interface SweepWithCounts {
  sweep: SweepRecord;
  counts: TrialCounts;
}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly adminToken: string | null,
  ) {}

  /** One request with the admin token (when set); an unreachable coordinator is an ApiError. */
  async #fetch(
    method: 'GET' | 'POST' | 'DELETE',
    route: string,
    body?: unknown,
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.adminToken) headers.authorization = `Bearer ${this.adminToken}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await fetch(`${this.baseUrl}${route}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new ApiError(0, unreachable(this.baseUrl, err));
    }
  }

  async #call<T>(method: 'GET' | 'POST' | 'DELETE', route: string, body?: unknown): Promise<T> {
    const res = await this.#fetch(method, route, body);
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text === '' ? null : JSON.parse(text);
    } catch {
      json = null;
    }
    if (!res.ok) {
      const message =
        json && typeof json === 'object' && 'error' in json
          ? String((json as { error: unknown }).error)
          : text || res.statusText;
      throw new ApiError(res.status, `${method} ${route}: ${res.status} ${message}`);
    }
    return json as T;
  }

  sweeps(): Promise<{ sweeps: (SweepRecord & { counts: TrialCounts })[] }> {
    return this.#call('GET', '/api/sweeps');
  }

  sweep(id: string): Promise<SweepWithCounts> {
    return this.#call('GET', `/api/sweeps/${encodeURIComponent(id)}`);
  }

  trialsOf(id: string, limit = 1000): Promise<{ total: number; trials: TrialRecord[] }> {
    return this.#call(
      'GET',
      `/api/sweeps/${encodeURIComponent(id)}/trials?limit=${limit}&sort=number&order=asc`,
    );
  }

  trial(id: string): Promise<{ trial: TrialRecord; epochs: EpochEntry[]; events: TrialEvent[] }> {
    return this.#call('GET', `/api/trials/${encodeURIComponent(id)}`);
  }

  workers(): Promise<{ workers: WorkerSnapshot[] }> {
    return this.#call('GET', '/api/workers');
  }

  /** `source` (the file's name) starts the coordinator's messages about the file. */
  createSweep(yaml: string, source?: string): Promise<{ sweep: SweepRecord }> {
    return this.#call('POST', '/api/sweeps', { yaml, ...(source === undefined ? {} : { source }) });
  }

  createTrial(input: {
    data: Record<string, unknown>;
    trainer: Record<string, unknown>;
    seed: number;
    workers: number;
    name?: string;
    bert?: Record<string, unknown>;
    start?: Record<string, unknown>;
  }): Promise<{ trial: TrialRecord }> {
    return this.#call('POST', '/api/trials', input);
  }

  /** Cancels a lone trial (admin token): queued, waiting or running. */
  cancelTrial(id: string): Promise<{ trial: TrialRecord }> {
    return this.#call('DELETE', `/api/trials/${encodeURIComponent(id)}`);
  }

  /** A trial's checkpoint file ('last': training checkpoint, 'best': weights), or null if none. */
  async checkpoint(trialId: string, kind: 'last' | 'best'): Promise<Buffer | null> {
    const route = `/api/trials/${encodeURIComponent(trialId)}/checkpoint?kind=${kind}`;
    const res = await this.#fetch('GET', route);
    if (res.status === 404) return null;
    if (!res.ok) throw new ApiError(res.status, `GET ${route}: ${res.status} ${await res.text()}`);
    return Buffer.from(await res.arrayBuffer());
  }

  action(id: string, action: 'pause' | 'resume' | 'cancel'): Promise<{ sweep: SweepRecord }> {
    return this.#call('POST', `/api/sweeps/${encodeURIComponent(id)}/${action}`);
  }

  /** Deletes an ended sweep, its trials and their checkpoints (admin token). */
  deleteSweep(id: string): Promise<{ deleted: SweepDeletion }> {
    return this.#call('DELETE', `/api/sweeps/${encodeURIComponent(id)}`);
  }

  /** The sweep's checkpoint GC: the plan (dryRun, a read) or a pass now (admin token). */
  gc(id: string, dryRun: boolean): Promise<{ gc: GcReport }> {
    return this.#call(dryRun ? 'GET' : 'POST', `/api/sweeps/${encodeURIComponent(id)}/gc`);
  }
}

export interface ApiTarget {
  url: string;
  adminToken: string | null;
}

/**
 * Where the coordinator is: --url, else MMIM_URL, else the local cluster's cluster.json under
 * --run-dir (written by `mmim up`), else http://127.0.0.1:8080. The admin token: --admin-token-file,
 * else MMIM_ADMIN_TOKEN, else the local cluster's token file.
 */
export function resolveApiTarget(
  flags: { url?: string; adminTokenFile?: string; runDir?: string },
  env: NodeJS.ProcessEnv,
): ApiTarget {
  const clusterFile = path.join(flags.runDir ?? 'runs/cluster', 'cluster.json');
  let local: { http?: string; adminTokenFile?: string } = {};
  if (fs.existsSync(clusterFile)) {
    try {
      local = JSON.parse(fs.readFileSync(clusterFile, 'utf8')) as typeof local;
    } catch {
      local = {};
    }
  }
  const url = flags.url ?? env['MMIM_URL'] ?? local.http ?? 'http://127.0.0.1:8080';
  const tokenFile = flags.adminTokenFile ?? local.adminTokenFile;
  const adminToken =
    flags.adminTokenFile !== undefined || (env['MMIM_ADMIN_TOKEN'] ?? '') === ''
      ? tokenFile !== undefined && fs.existsSync(tokenFile)
        ? fs.readFileSync(tokenFile, 'utf8').trim()
        : null
      : (env['MMIM_ADMIN_TOKEN'] ?? '').trim();
  return { url: url.replace(/\/+$/, ''), adminToken };
}
