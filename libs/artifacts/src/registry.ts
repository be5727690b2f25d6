/**
 * One registry of artifact backends, chosen by a URL-ish setting (`--artifacts`):
 *   dir:/abs/path                 a directory (relative paths resolve against the cwd)
 *   s3://bucket/prefix?endpoint=http://host:9000&region=us-east-1&path_style=true
 *   redis  or  redis:?max_bytes=67108864   the run's own Redis, capped
 * A new backend is one registerArtifactBackend() call.
 */
import type { Cluster, Redis } from 'ioredis';
import { DirArtifactStore } from './dir-store.js';
import { RedisArtifactStore } from './redis-store.js';
import { S3ArtifactStore } from './s3-store.js';
import type { ArtifactStore } from './store.js';

export interface ArtifactStoreContext {
  /** The run's Redis, for the redis backend. */
  redis?: Redis | Cluster;
  /** Its key prefix; default 'mmim:'. */
  prefix?: string;
}

/** `spec` split at its scheme: `rest` is everything after `scheme:`. */
export interface ArtifactSpec {
  scheme: string;
  rest: string;
  raw: string;
}

export type ArtifactBackend = (spec: ArtifactSpec, context: ArtifactStoreContext) => ArtifactStore;

const backends = new Map<string, ArtifactBackend>();

export function registerArtifactBackend(scheme: string, backend: ArtifactBackend): void {
  backends.set(scheme, backend);
}

export function parseArtifactSpec(raw: string): ArtifactSpec {
  const colon = raw.indexOf(':');
  const scheme = colon < 0 ? raw : raw.slice(0, colon);
  return { scheme, rest: colon < 0 ? '' : raw.slice(colon + 1), raw };
}

/** Opens the store a setting names; throws naming the setting and the known schemes. */
export function openArtifactStore(raw: string, context: ArtifactStoreContext = {}): ArtifactStore {
  const spec = parseArtifactSpec(raw.trim());
  const backend = backends.get(spec.scheme);
  if (backend === undefined) {
    throw new Error(
      `artifact store ${JSON.stringify(raw)}: unknown scheme '${spec.scheme}' (known: ${[...backends.keys()].map((s) => `${s}:`).join(', ')})`,
    );
  }
  return backend(spec, context);
}

const flag = (v: string | null): boolean | undefined =>
  v === null ? undefined : ['1', 'true', 'yes'].includes(v.toLowerCase());

registerArtifactBackend('dir', (spec) => {
  const dir = spec.rest.startsWith('//') ? spec.rest.slice(2) : spec.rest;
  if (dir === '')
    throw new Error(
      `artifact store ${JSON.stringify(spec.raw)}: dir: needs a path (dir:/srv/mmim/artifacts)`,
    );
  return new DirArtifactStore(dir);
});

registerArtifactBackend('s3', (spec) => {
  let url: URL;
  try {
    url = new URL(spec.raw);
  } catch {
    throw new Error(
      `artifact store ${JSON.stringify(spec.raw)}: not a URL (s3://bucket/prefix?endpoint=...)`,
    );
  }
  if (url.hostname === '') {
    throw new Error(
      `artifact store ${JSON.stringify(spec.raw)}: s3:// needs a bucket (s3://bucket/prefix)`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new Error(
      `artifact store ${JSON.stringify(spec.raw.replace(/\/\/[^@]*@/, '//***@'))}: no credentials in the URL (it is stored and logged); set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY`,
    );
  }
  const q = url.searchParams;
  const known = new Set(['endpoint', 'region', 'path_style']);
  for (const k of q.keys()) {
    if (!known.has(k)) {
      throw new Error(
        `artifact store ${JSON.stringify(spec.raw)}: unknown parameter '${k}' (known: ${[...known].join(', ')})`,
      );
    }
  }
  const pathStyle = flag(q.get('path_style'));
  return new S3ArtifactStore({
    bucket: url.hostname,
    prefix: decodeURIComponent(url.pathname.replace(/^\//, '')),
    ...(q.get('endpoint') === null ? {} : { endpoint: q.get('endpoint') ?? '' }),
    ...(q.get('region') === null ? {} : { region: q.get('region') ?? '' }),
    ...(pathStyle === undefined ? {} : { forcePathStyle: pathStyle }),
  });
});

registerArtifactBackend('redis', (spec, context) => {
  if (context.redis === undefined) {
    throw new Error(
      `artifact store ${JSON.stringify(spec.raw)}: the redis backend needs the run's Redis connection`,
    );
  }
  const q = new URLSearchParams(spec.rest.replace(/^\?/, ''));
  const max = q.get('max_bytes');
  const maxBytes = max === null ? undefined : Number(max);
  if (maxBytes !== undefined && (!Number.isInteger(maxBytes) || maxBytes <= 0)) {
    throw new Error(
      `artifact store ${JSON.stringify(spec.raw)}: max_bytes must be a positive integer, got '${max}'`,
    );
  }
  return new RedisArtifactStore(context.redis, {
    ...(context.prefix === undefined ? {} : { prefix: context.prefix }),
    ...(maxBytes === undefined ? {} : { maxBytes }),
  });
});
