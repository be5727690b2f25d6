/**
 * The coordinator's HTTP server: the dashboard's static files, its JSON API and event stream,
 * and Prometheus /metrics, on fastify without plugins.
 *
 * Security: every answer carries the headers of SECURITY_HEADERS and no CORS header (a page on
 * another origin cannot read the API); POSTs need the admin token (constant-time check) and
 * are refused before their body is read; with `readTokenRequired` every /api read and /metrics
 * needs it too (`Authorization: Bearer`, or `?token=` for EventSource, which cannot send
 * headers). Request logs carry method, route, status and time but never the query string, so
 * a `?token=` never reaches a log line. A `Host` or `Origin` that is not an address the server
 * is served on is refused first (host-check.ts: DNS rebinding). Nothing here knows the join token or the Redis URL.
 */
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { CheckpointStore, ExperimentStoreApi } from '@mmim/experiments';
import type { Logger } from '@mmim/runtime';
import { SweepConfigError } from '@mmim/sweep';
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import { bearerToken, TokenCheck } from './auth.js';
import { HostCheck } from './host-check.js';
import type { SweepControl } from './control.js';
import { HttpError, SweepActionError } from './errors.js';
import type { CoordinatorMetrics } from './metrics.js';
import { registerGcRoutes, type CheckpointGcControl } from './gc-routes.js';
import type { RedisMemoryState } from '../redis-memory.js';
import { registerApiRoutes } from './routes.js';
import { ChangeHub, EventStreams } from './sse.js';
import { StaticFiles } from './static.js';

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'self'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
};

/**
 * The largest request body the API reads (a sweep file is a few hundred bytes; a lone trial's
 * body less). A larger one is answered 413 naming this limit.
 */
export const API_BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * Up to this size an over-limit body is read and dropped after the 413, so that a client still
 * sending it reads the answer (closing at once resets the connection under the client, which
 * then sees a broken connection instead of the 413); a larger one closes the connection.
 */
const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;

function tooLarge(length: number | null): HttpError {
  const size = length === null ? '' : ` of ${length} bytes`;
  return new HttpError(
    413,
    `request body${size} is over the coordinator's limit of ${API_BODY_LIMIT_BYTES} bytes (1 MiB)`,
  );
}

export interface HttpServerOptions {
  store: ExperimentStoreApi;
  checkpoints: CheckpointStore;
  control: SweepControl;
  /** The checkpoint GC (GET/POST /api/sweeps/:id/gc); absent: no such routes. */
  gc?: CheckpointGcControl;
  /** Redis memory and whether trials are refused (GET /api/redis-memory; dashboard banner). */
  redisMemory?: { readonly state: RedisMemoryState };
  /** Needed by every POST; also by reads when `readTokenRequired`. */
  adminToken: string;
  /** Reads need the admin token too (default on when bound to a non-loopback address). */
  readTokenRequired: boolean;
  /** The built dashboard (apps/dashboard's output); null serves the API only. */
  staticDir: string | null;
  metrics: CoordinatorMetrics;
  log: Logger;
  /** Reported by /api/health; default: the coordinator package's version. */
  version?: string;
  /** Interval of the SSE `: ping` comment; default 15 000 ms. */
  ssePingMs?: number;
  /**
   * Host names (optionally name:port) the dashboard answers to besides the bound address, e.g. a
   * hostname behind a proxy (host-check.ts). Default none.
   */
  allowedHosts?: readonly string[];
}

export interface HttpServerHandle {
  /** Starts listening; port 0 picks a free one. */
  listen(host: string, port: number): Promise<{ url: string; port: number }>;
  /** `http://host:port` once listening, else null. */
  readonly url: string | null;
  /** Ends event streams, stops the change subscription, closes the server. Idempotent. */
  close(): Promise<void>;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(
      fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The path part of a request URL (no query string). */
function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** Paths that need the read token in read-token mode (the page itself and health stay open). */
function isProtectedRead(path: string): boolean {
  return (path.startsWith('/api/') && path !== '/api/health') || path === '/metrics';
}

export function createHttpServer(options: HttpServerOptions): HttpServerHandle {
  const { store, metrics } = options;
  const log = options.log.child({ component: 'http' });
  const admin = new TokenCheck(options.adminToken);
  const staticFiles = options.staticDir === null ? null : new StaticFiles(options.staticDir);
  const hub = new ChangeHub(store, log);
  const streams = new EventStreams(hub, options.ssePingMs ?? 15_000);
  const hosts = new HostCheck(options.allowedHosts ?? []);

  // No fastify logger: its request lines would carry the URL (and so a `?token=`).
  const app = Fastify({
    logger: false,
    bodyLimit: API_BODY_LIMIT_BYTES,
    return503OnClosing: true,
    // Errors raised before routing (a malformed %-escape in the path) skip the hooks: set the
    // headers here, and do not echo the path.
    frameworkErrors: (err, _req, rawReply) => {
      const reply = rawReply as unknown as FastifyReply;
      void reply
        .code(err.statusCode ?? 400)
        .headers(SECURITY_HEADERS)
        .send({ error: err.code === 'FST_ERR_BAD_URL' ? 'malformed URL path' : err.message });
    },
  });

  app.addHook('onRequest', async (req: FastifyRequest) => {
    // First: a request for a name we are not served on (DNS rebinding) gets nothing.
    if (!hosts.allows(req.headers.host)) {
      throw new HttpError(
        421,
        `Host ${JSON.stringify(req.headers.host ?? '')} is not served here (allowed: ${hosts.describe()}; ` +
          'add a proxy hostname with --http-allowed-hosts)',
      );
    }
    if (!hosts.allowsOrigin(req.headers.origin)) {
      throw new HttpError(403, `Origin ${JSON.stringify(req.headers.origin)} is not served here`);
    }
    // Every method but GET/HEAD changes something: all of them need the admin token.
    const adminRoute = (req.routeOptions.config as { admin?: boolean } | undefined)?.admin === true;
    if (adminRoute || (req.method !== 'GET' && req.method !== 'HEAD')) {
      if (!admin.matches(bearerToken(req.headers.authorization))) {
        throw new HttpError(
          401,
          'this action needs the admin token (Authorization: Bearer <token>)',
        );
      }
      return;
    }
    if (options.readTokenRequired && isProtectedRead(pathOf(req.url))) {
      const query = req.query as Record<string, unknown>;
      const given =
        bearerToken(req.headers.authorization) ??
        (typeof query['token'] === 'string' ? query['token'] : null);
      if (!admin.matches(given)) {
        throw new HttpError(
          401,
          'reading needs the token (Authorization: Bearer <token> or ?token=)',
        );
      }
    }
  });

  // After the token check (a caller without it learns nothing), before the body is read: a
  // declared length over the limit is answered here, where the connection can stay open.
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const length = Number(req.headers['content-length'] ?? 0);
    if (!(length > API_BODY_LIMIT_BYTES)) return;
    if (length > DRAIN_LIMIT_BYTES) void reply.header('connection', 'close');
    throw tooLarge(length);
  });

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.headers(SECURITY_HEADERS);
    return payload;
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const label = route === '/*' ? 'static' : route;
    const seconds = reply.elapsedTime / 1000;
    metrics.observeHttpRequest(label, reply.statusCode, seconds);
    const line = {
      method: req.method,
      route: label,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
    };
    if (reply.statusCode >= 500) log.error(line, 'request failed');
    else log.debug(line, 'request');
  });

  app.setErrorHandler(async (err: FastifyError | Error, req, reply) => {
    if (err instanceof HttpError) return reply.code(err.status).send({ error: err.message });
    if (err instanceof SweepActionError) {
      const code = err.code === 'not-found' ? 404 : err.code === 'conflict' ? 409 : 400;
      return reply.code(code).send({ error: err.message });
    }
    if (err instanceof SweepConfigError) return reply.code(400).send({ error: err.message });
    // A body without a declared length that outgrows the limit while it is read.
    if ((err as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return reply.code(413).send({ error: tooLarge(null).message });
    const status = (err as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.code(status).send({ error: err.message });
    }
    log.error({ err, method: req.method, route: req.routeOptions.url }, 'request handler failed');
    return reply.code(500).send({ error: 'internal error (see the coordinator log)' });
  });

  app.setNotFoundHandler(async (req, reply) =>
    reply.code(404).send({ error: `no route ${req.method} ${pathOf(req.url)}` }),
  );

  registerApiRoutes(app, {
    store,
    checkpoints: options.checkpoints,
    control: options.control,
    version: options.version ?? packageVersion(),
    log,
  });
  if (options.gc !== undefined) registerGcRoutes(app, { store, gc: options.gc });
  const memory = options.redisMemory;
  if (memory !== undefined) app.get('/api/redis-memory', async () => memory.state);

  app.get('/api/events', { exposeHeadRoute: false }, async (_req, reply) => {
    reply.hijack(); // a long-lived stream: fastify must not answer or time it
    await streams.serve(reply.raw, { ...SECURITY_HEADERS });
  });

  app.get('/metrics', async (_req, reply) => {
    const { contentType, body } = await metrics.render();
    return reply.header('Content-Type', contentType).send(body);
  });

  app.get('/*', async (req, reply) => {
    const path = pathOf(req.url);
    if (path.startsWith('/api/') || staticFiles === null) {
      return reply.code(404).send({ error: `no route GET ${path}` });
    }
    const file = await staticFiles.resolve(path);
    if (file === null) return reply.code(404).send({ error: `no file ${path}` });
    return reply
      .header('Content-Type', file.contentType)
      .header('Content-Length', String(file.size))
      .header('Cache-Control', 'no-cache')
      .send(fs.createReadStream(file.path));
  });

  let closing: Promise<void> | null = null;
  let url: string | null = null;
  return {
    get url() {
      return url;
    },
    async listen(host, port) {
      await app.listen({ host, port });
      const addr = app.server.address() as AddressInfo;
      hosts.bound(host, addr.port);
      const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      log.info({ host: addr.address, port: addr.port }, 'dashboard listening');
      url = `http://${shownHost}:${addr.port}`;
      return { url, port: addr.port };
    },
    close() {
      closing ??= (async () => {
        streams.closeAll();
        await hub.close();
        await app.close();
      })();
      return closing;
    },
  };
}
