/**
 * The dashboard's client of the coordinator's JSON API (docs/dashboard-api.md). Record shapes
 * come from @mmim/experiments as types only, so nothing of that Node library enters the bundle.
 *
 * Auth in the browser: the admin token is asked for once, when an action first needs it, and
 * kept in sessionStorage (gone when the tab closes; never in localStorage or a cookie). It is
 * sent as `Authorization: Bearer` on every call, which also satisfies servers that require a
 * token for reads; a 401 forgets it so the next action asks again.
 */
import type {
  CheckpointInfo,
  ChangeEvent,
  Curve,
  EpochEntry,
  MetricInfo,
  SweepRecord,
  TrialCounts,
  TrialEvent,
  TrialRecord,
  TrialState,
  WorkerSnapshot,
} from '@mmim/experiments';

export type {
  ChangeEvent,
  Curve,
  EpochEntry,
  MetricInfo,
  SweepRecord,
  TrialEvent,
  TrialRecord,
  TrialState,
  WorkerSnapshot,
};

export type SweepWithCounts = SweepRecord & { counts: TrialCounts };
export type SweepAction = 'pause' | 'resume' | 'cancel';

export interface TrialDetail {
  trial: TrialRecord;
  epochs: EpochEntry[];
  events: TrialEvent[];
  checkpoint: { last: CheckpointInfo | null; best: CheckpointInfo | null };
}

export interface ParallelData {
  params: string[];
  metric: string;
  rows: { trialId: string; values: (number | string)[]; value: number }[];
}

export interface Importance {
  method: string;
  params: { name: string; importance: number; correlation: number; n: number }[];
}

export interface TrialListQuery {
  sort?: string;
  order?: 'asc' | 'desc';
  state?: TrialState[];
  q?: string;
  offset?: number;
  limit?: number;
}

/** A non-2xx answer; `message` is the API's own `error` text. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const TOKEN_KEY = 'mmim.adminToken';

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}
/** Fired on window when the token is stored or forgotten (sessionStorage has no same-tab event). */
export const TOKEN_EVENT = 'mmim-token';

export function setToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
  window.dispatchEvent(new Event(TOKEN_EVENT));
}
export function clearToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  window.dispatchEvent(new Event(TOKEN_EVENT));
}

/** Adds `?token=` where a header cannot be sent (EventSource, download links). */
export function withToken(url: string): string {
  const token = getToken();
  if (token === null) return url;
  return url + (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token);
}

async function request<T>(method: 'GET' | 'POST' | 'DELETE', path: string): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const token = getToken();
  if (token !== null) headers['Authorization'] = `Bearer ${token}`;
  const res = await fetch(path, { method, headers, cache: 'no-store' });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page): report the status below.
  }
  if (!res.ok) {
    const err =
      body !== null && typeof body === 'object' && 'error' in body
        ? String((body as { error: unknown }).error)
        : `${method} ${path}: HTTP ${res.status}`;
    if (res.status === 401) clearToken();
    throw new ApiError(res.status, err);
  }
  if (body === null) throw new ApiError(res.status, `${method} ${path}: empty or non-JSON answer`);
  return body as T;
}

const enc = encodeURIComponent;

let metricsOnce: Promise<{ metrics: MetricInfo[] }> | null = null;

function query(params: Record<string, string | number | undefined>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${enc(String(v))}`);
  return parts.length ? '?' + parts.join('&') : '';
}

export const api = {
  sweeps: () => request<{ sweeps: SweepWithCounts[] }>('GET', '/api/sweeps'),
  sweep: (id: string) =>
    request<{ sweep: SweepRecord; counts: TrialCounts }>('GET', `/api/sweeps/${enc(id)}`),
  sweepTrials: (id: string, q: TrialListQuery) =>
    request<{ total: number; trials: TrialRecord[] }>(
      'GET',
      `/api/sweeps/${enc(id)}/trials` +
        query({
          sort: q.sort,
          order: q.order,
          state: q.state?.join(','),
          q: q.q,
          offset: q.offset,
          limit: q.limit,
        }),
    ),
  bestHistory: (id: string) =>
    request<{ points: { at: number; value: number; trialId: string }[] }>(
      'GET',
      `/api/sweeps/${enc(id)}/best-history`,
    ),
  importance: (id: string) => request<Importance>('GET', `/api/sweeps/${enc(id)}/importance`),
  parallel: (id: string) => request<ParallelData>('GET', `/api/sweeps/${enc(id)}/parallel`),
  sweepEvents: (id: string) =>
    request<{ events: TrialEvent[] }>('GET', `/api/sweeps/${enc(id)}/events`),
  sweepAction: (id: string, action: SweepAction) =>
    request<{ sweep: SweepRecord }>('POST', `/api/sweeps/${enc(id)}/${action}`),
  deleteSweep: (id: string) =>
    request<{
      deleted: { sweepId: string; trials: number; checkpoints: number; freedBytes: number };
    }>('DELETE', `/api/sweeps/${enc(id)}`),
  trial: (id: string) => request<TrialDetail>('GET', `/api/trials/${enc(id)}`),
  /** The metric table, fetched once per page load (it changes only with the coordinator). */
  metrics: (): Promise<{ metrics: MetricInfo[] }> =>
    (metricsOnce ??= request<{ metrics: MetricInfo[] }>('GET', '/api/metrics').catch((err) => {
      metricsOnce = null; // a failed fetch is tried again next time
      throw err;
    })),
  /** Cancels a lone trial (admin token). */
  cancelTrial: (id: string) => request<{ trial: TrialRecord }>('DELETE', `/api/trials/${enc(id)}`),
  /** Every curve (names absent) or the named ones, downsampled to maxPoints on the server. */
  curves: (id: string, opts: { names?: string[]; maxPoints?: number; after?: string }) =>
    request<{ curves: Curve[] }>(
      'GET',
      `/api/trials/${enc(id)}/curves` +
        query({ names: opts.names?.join(','), maxPoints: opts.maxPoints, after: opts.after }),
    ),
  checkpointUrl: (id: string, kind: 'last' | 'best') =>
    withToken(`/api/trials/${enc(id)}/checkpoint?kind=${kind}`),
  workers: () => request<{ workers: WorkerSnapshot[] }>('GET', '/api/workers'),
  /** Redis memory, and why new trials are refused while it is nearly full (null: they are not). */
  redisMemory: () =>
    request<{ usedBytes: number; maxBytes: number; refusing: boolean; message: string | null }>(
      'GET',
      '/api/redis-memory',
    ),
};
