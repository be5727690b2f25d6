// @ts-check
/**
 * Container health check of the coordinator: asks `grpc.health.v1.Health/Check` and exits 0
 * when the answer is SERVING, 1 otherwise (not serving, unreachable, timed out), 2 on bad usage.
 *
 *   node deploy/healthcheck/grpc-health.mjs [HOST:PORT] [--service NAME]
 *   node deploy/healthcheck/grpc-health.mjs --http http://127.0.0.1:8080/api/health
 *
 * HOST:PORT defaults to 127.0.0.1:$MMIM_GRPC_PORT (50051); the service defaults to '' (the
 * whole server). TLS: when MMIM_TLS_CA is set the check connects with TLS, trusting that CA,
 * and presents MMIM_TLS_CERT/MMIM_TLS_KEY as its client certificate when both are set (mutual
 * TLS); MMIM_TLS_SERVER_NAME overrides the name checked against the server's certificate
 * (127.0.0.1 is rarely in it). MMIM_HEALTH_TIMEOUT_MS bounds the whole check (default 3000).
 *
 * Plain JavaScript on purpose: it runs every few seconds, so it starts with bare `node` (about
 * 50 ms) rather than through the TypeScript loader; it needs only @grpc/grpc-js and
 * grpc-health-check, which the image's production dependencies already hold.
 */
/* global fetch, AbortSignal */
import fs from 'node:fs';
import { parseArgs } from 'node:util';

const SERVING = 'SERVING';

/**
 * @typedef {(
 *   request: { service: string },
 *   options: { deadline: Date },
 *   callback: (err: Error | null, response?: { status?: string }) => void,
 * ) => unknown} CheckMethod
 */

/**
 * @param {string} message
 * @returns {never}
 */
function usage(message) {
  process.stderr.write(
    `grpc-health: ${message}\nusage: grpc-health.mjs [HOST:PORT] [--service NAME] | --http URL\n`,
  );
  process.exit(2);
}

/** @returns {{ target: string, service: string, http: string | undefined, timeoutMs: number }} */
function readOptions() {
  let parsed;
  try {
    parsed = parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      options: { service: { type: 'string' }, http: { type: 'string' } },
    });
  } catch (err) {
    return usage(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) usage(`one HOST:PORT expected, got ${positionals.length}`);
  const target = positionals[0] ?? `127.0.0.1:${process.env['MMIM_GRPC_PORT'] ?? '50051'}`;
  if (!/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d+$/.test(target))
    usage(`expected HOST:PORT, got '${target}'`);
  const timeoutMs = Number(process.env['MMIM_HEALTH_TIMEOUT_MS'] ?? '3000');
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) usage('MMIM_HEALTH_TIMEOUT_MS must be > 0');
  return { target, service: values.service ?? '', http: values.http, timeoutMs };
}

/**
 * @param {string} url
 * @param {number} timeoutMs
 * @returns {Promise<string>} 'SERVING' or what went wrong
 */
async function checkHttp(url, timeoutMs) {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (res.status !== 200) return `HTTP ${res.status}`;
  const body = /** @type {unknown} */ (await res.json());
  const ok = typeof body === 'object' && body !== null && 'ok' in body && body.ok === true;
  return ok ? SERVING : `body without ok: true (${JSON.stringify(body).slice(0, 200)})`;
}

/**
 * @param {string} target
 * @param {string} service
 * @param {number} timeoutMs
 * @returns {Promise<string>} the serving status, e.g. 'SERVING' or 'NOT_SERVING'
 */
async function checkGrpc(target, service, timeoutMs) {
  const grpc = await import('@grpc/grpc-js');
  const { service: healthService } = await import('grpc-health-check');
  const ca = process.env['MMIM_TLS_CA'];
  const cert = process.env['MMIM_TLS_CERT'];
  const key = process.env['MMIM_TLS_KEY'];
  const credentials = ca
    ? grpc.credentials.createSsl(
        fs.readFileSync(ca),
        cert && key ? fs.readFileSync(key) : null,
        cert && key ? fs.readFileSync(cert) : null,
      )
    : grpc.credentials.createInsecure();
  /** @type {Record<string, string | number>} */
  const options = {};
  const serverName = process.env['MMIM_TLS_SERVER_NAME'];
  if (ca && serverName) options['grpc.ssl_target_name_override'] = serverName;
  const Client = grpc.makeGenericClientConstructor(healthService, 'Health');
  // The generic client's methods are added at run time from the service definition.
  const client = /** @type {import('@grpc/grpc-js').Client & { check: CheckMethod }} */ (
    /** @type {unknown} */ (new Client(target, credentials, options))
  );
  try {
    return await new Promise((resolve, reject) => {
      client.check({ service }, { deadline: new Date(Date.now() + timeoutMs) }, (err, res) =>
        err ? reject(err) : resolve(res?.status ?? 'UNKNOWN'),
      );
    });
  } finally {
    client.close();
  }
}

const opts = readOptions();
try {
  const status = opts.http
    ? await checkHttp(opts.http, opts.timeoutMs)
    : await checkGrpc(opts.target, opts.service, opts.timeoutMs);
  const what = opts.http ?? `${opts.target} service '${opts.service}'`;
  if (status === SERVING) {
    process.stdout.write(`healthy: ${what} is ${status}\n`);
    process.exit(0);
  }
  process.stderr.write(`unhealthy: ${what} is ${status}\n`);
  process.exit(1);
} catch (err) {
  process.stderr.write(`unhealthy: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
