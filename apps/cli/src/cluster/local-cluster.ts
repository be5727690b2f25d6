/**
 * A whole cluster on this machine, each part its own process as on a real cluster: a
 * `redis-server` (unless a URL is given; AOF on, data under the run directory), the
 * coordinator, and N workers. Used by `mmim up`, `mmim train --workers K` and the tests.
 *
 * Tokens and the Redis password are generated into files under the run directory (mode 0600;
 * a later start on the same run directory reuses them) and handed to the children by file,
 * stdin or environment, so they never appear in `ps`: the Redis servers read `requirepass` from
 * stdin, the coordinator and workers get the Redis URLs (password included) in their
 * environment (MMIM_REDIS_URL, MMIM_EXCHANGE_REDIS_URL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ApiClient } from './api-client.js';
import type { RestartPolicyOptions } from './restart-policy.js';
import { Supervisor, type GaveUp, type SupervisionEvent } from './supervisor.js';

function entryOf(pkg: string, file: string): string {
  // The package's entry is <project>/src/index.ts; its process entry is a sibling.
  return path.join(path.dirname(fileURLToPath(import.meta.resolve(pkg))), file);
}

export const COORDINATOR_MAIN = entryOf('@mmim/coordinator', 'main.ts');
export const WORKER_MAIN = entryOf('@mmim/worker', 'main.ts');

export interface LocalClusterOptions {
  workers: number;
  /** Use this Redis instead of starting one. */
  redisUrl?: string;
  /**
   * A second Redis for the per-step exchange only: 'auto' starts one without persistence, a URL
   * uses that one; default: none (the exchange shares the durable Redis).
   */
  exchangeRedis?: 'auto' | string;
  /** Tokens, Redis data, logs. */
  runDir: string;
  /** gRPC port; 0 picks a free one. */
  port?: number;
  /** Dashboard/API port; 0 picks a free one. */
  httpPort?: number;
  leaseMs?: number;
  /** TF.js backend for the workers (default: the fastest installed). */
  backend?: string;
  /**
   * The AOF's fsync policy for the cluster's own Redis: 'everysec' (Redis's default; a SIGKILL
   * can lose the last second) or 'always' (nothing acknowledged is lost, slower; chaos tests).
   */
  redisFsync?: 'everysec' | 'always';
  /** Extra environment for every child (tests pin MMIM_BACKEND and the log level). */
  env?: NodeJS.ProcessEnv;
  /** Progress lines for the user; default: nothing. */
  say?: (line: string) => void;
  /**
   * Restart a child (Redis, coordinator, worker) that exits on its own, with backoff, and give
   * up after a run of rapid failures (`gaveUp` resolves). `mmim up` and `mmim train --workers`
   * supervise; tests that kill children on purpose leave it off (the default).
   */
  supervise?: Partial<RestartPolicyOptions> | true;
  /** Each exit, restart and give-up of a supervised child. */
  onSupervision?: (event: SupervisionEvent) => void;
  /**
   * Ends a start in progress (Ctrl-C while the coordinator loads): what was started is stopped
   * and `start` rejects with StartAborted.
   */
  abort?: AbortSignal;
}

/** `start` was told to give up (its `abort` signal) before the cluster was up. */
export class StartAborted extends Error {
  constructor() {
    super('stopped before the cluster was up');
    this.name = 'StartAborted';
  }
}

export interface ChildHandle {
  readonly name: string;
  /** What the console calls it: 'worker local-0', 'coordinator', 'redis'. */
  readonly label: string;
  readonly log: string;
  readonly pid: number | undefined;
  proc: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function writeSecret(file: string): string {
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const token = randomBytes(24).toString('hex');
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

function spawnChild(
  name: string,
  label: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  logFile: string,
  /** Written to the child's stdin, which is then closed (a secret kept out of argv). */
  stdin?: string,
): ChildHandle {
  const out = fs.openSync(logFile, 'a');
  const proc = spawn(args[0] ?? process.execPath, args.slice(1), {
    env,
    stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', out],
  });
  fs.closeSync(out);
  if (stdin !== undefined) {
    // An early exit closes the pipe; the exit itself is what the caller reports.
    proc.stdin?.on('error', () => {});
    proc.stdin?.end(stdin);
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { name, label, log: logFile, pid: proc.pid, proc, exited };
}

/** Resolves with the first JSON stdout line with `event: wanted`, or rejects when it exits. */
function waitForEvent(
  child: ChildHandle,
  wanted: string,
  timeoutMs: number,
  logFile: string,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(new Error(`${child.name} did not start within ${timeoutMs} ms (log: ${logFile})`)),
      timeoutMs,
    );
    const rl = readline.createInterface({ input: child.proc.stdout! });
    rl.on('line', (text) => {
      try {
        const line = JSON.parse(text) as Record<string, unknown>;
        if (line['event'] === wanted) {
          clearTimeout(timer);
          resolve(line);
        }
      } catch {
        // not ours
      }
    });
    void child.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${child.name} exited (${code ?? signal}) before starting; see ${logFile}`));
    });
  });
}

/**
 * AUTH then PING on a raw connection: 'ready' on +PONG, 'not yet' while it does not listen or
 * is loading its AOF, else the error Redis gave for the password.
 */
function authenticatedPing(port: number, password: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    const done = (answer: string): void => {
      s.destroy();
      resolve(answer);
    };
    s.once('connect', () => s.write(`AUTH ${password}\r\nPING\r\n`));
    s.on('data', (d) => {
      got += d.toString();
      const lines = got.split('\r\n');
      if (lines.length < 3) return; // two replies, each ending in CRLF
      if (lines[0] !== '+OK') done(lines[0]?.startsWith('-LOADING') ? 'not yet' : String(lines[0]));
      else done(lines[1] === '+PONG' ? 'ready' : 'not yet');
    });
    s.once('error', () => done('not yet'));
    s.once('close', () => done('not yet'));
  });
}

export class LocalCluster {
  redisUrl = '';
  /** The exchange's own Redis, or '' when the exchange shares `redisUrl`. */
  exchangeRedisUrl = '';
  exchangeRedis: ChildHandle | null = null;
  grpcAddress = '';
  httpUrl = '';
  joinTokenFile = '';
  adminTokenFile = '';
  adminToken = '';
  /** The password of the Redis servers this cluster started; '' when it started none. */
  redisPasswordFile = '';
  #redisPassword = '';
  redis: ChildHandle | null = null;
  coordinator: ChildHandle | null = null;
  readonly workers: ChildHandle[] = [];
  /** Every child ever started, so that stop() also ends one a start in progress had not kept. */
  readonly #all = new Set<ChildHandle>();
  #grpcPort = 0;
  #httpPort = 0;
  #stopping = false;
  /** Null when unsupervised; watches children only once the whole cluster is up. */
  readonly #supervisor: Supervisor | null;
  #supervising = false;
  #gaveUp: (event: GaveUp) => void = () => {};
  /** Resolves if a supervised child failed too often in a row: the cluster cannot go on. */
  readonly gaveUp: Promise<GaveUp> = new Promise((resolve) => {
    this.#gaveUp = resolve;
  });

  private constructor(readonly options: LocalClusterOptions) {
    const policy = options.supervise;
    this.#supervisor =
      policy === undefined
        ? null
        : new Supervisor(
            policy === true ? {} : policy,
            (event) => options.onSupervision?.(event),
            (event) => this.#gaveUp(event),
          );
  }

  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
    const c = new LocalCluster(options);
    const signal = options.abort;
    const aborted = new Promise<never>((_, reject) => {
      if (signal?.aborted) reject(new StartAborted());
      signal?.addEventListener('abort', () => reject(new StartAborted()), { once: true });
    });
    aborted.catch(() => {}); // only read in the race below
    try {
      await Promise.race([c.#start(), aborted]);
    } catch (err) {
      // The start may still be running: stop() makes it spawn nothing more and ends all it did.
      await c.stop();
      throw err;
    }
    return c;
  }

  /** True once `stop` was called: children exit on purpose, nothing is restarted. */
  get stopping(): boolean {
    return this.#stopping;
  }

  get api(): ApiClient {
    return new ApiClient(this.httpUrl, this.adminToken);
  }

  #say(line: string): void {
    this.options.say?.(line);
  }

  /** The children's environment: the Redis URLs travel here, not in argv (`ps` shows argv). */
  #env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...this.options.env,
      MMIM_REDIS_URL: this.redisUrl,
    };
    if (this.exchangeRedisUrl === '') delete env['MMIM_EXCHANGE_REDIS_URL'];
    else env['MMIM_EXCHANGE_REDIS_URL'] = this.exchangeRedisUrl;
    return env;
  }

  /** Starts a child, unless the cluster is stopping (a start in progress that was aborted). */
  #spawn(...args: Parameters<typeof spawnChild>): ChildHandle {
    if (this.#stopping) throw new StartAborted();
    const child = spawnChild(...args);
    this.#all.add(child);
    void child.exited.then(() => this.#all.delete(child));
    return child;
  }

  #log(name: string): string {
    return path.join(this.options.runDir, 'logs', `${name}.log`);
  }

  async #start(): Promise<void> {
    const o = this.options;
    fs.mkdirSync(path.join(o.runDir, 'logs'), { recursive: true });
    this.joinTokenFile = path.join(o.runDir, 'join-token');
    this.adminTokenFile = path.join(o.runDir, 'admin-token');
    writeSecret(this.joinTokenFile);
    this.adminToken = writeSecret(this.adminTokenFile);
    if (o.redisUrl === undefined || o.exchangeRedis === 'auto') {
      this.redisPasswordFile = path.join(o.runDir, 'redis-password');
      this.#redisPassword = writeSecret(this.redisPasswordFile);
    }
    this.redisUrl = o.redisUrl ?? (await this.#startRedis());
    if (o.exchangeRedis === 'auto') this.exchangeRedisUrl = await this.#startExchangeRedis();
    else if (o.exchangeRedis !== undefined) this.exchangeRedisUrl = o.exchangeRedis;
    this.#grpcPort = o.port || (await freePort());
    this.#httpPort = o.httpPort || (await freePort());
    await this.startCoordinator();
    for (let i = 0; i < o.workers; i++) this.startWorker(`local-${i}`);
    this.#superviseAll();
    fs.writeFileSync(
      path.join(o.runDir, 'cluster.json'),
      `${JSON.stringify(
        {
          grpc: this.grpcAddress,
          http: this.httpUrl,
          adminTokenFile: path.resolve(this.adminTokenFile),
          ...(this.redisPasswordFile === ''
            ? {}
            : { redisPasswordFile: path.resolve(this.redisPasswordFile) }),
          pid: process.pid,
        },
        null,
        2,
      )}\n`,
    );
  }

  /**
   * Supervision starts once everything is up (a failed start is the caller's error, not a
   * restart); children started later are watched as they start.
   */
  #superviseAll(): void {
    if (!this.#supervisor) return;
    this.#supervising = true;
    if (this.redis) this.#watch(this.redis, () => this.#respawnRedis());
    if (this.exchangeRedis) this.#watch(this.exchangeRedis, () => this.#respawnExchangeRedis());
    if (this.coordinator) this.#watch(this.coordinator, () => this.#restartCoordinator());
    for (const w of this.workers) this.#watch(w, () => Promise.resolve(this.startWorker(w.name)));
  }

  #watch(child: ChildHandle, restart: () => Promise<ChildHandle>): void {
    if (this.#supervising && !this.#stopping) this.#supervisor?.watch(child, restart);
  }

  /** A coordinator that does not come up is killed, so that its exit counts as a failure. */
  async #restartCoordinator(): Promise<ChildHandle> {
    try {
      await this.startCoordinator();
    } catch (err) {
      this.coordinator?.proc.kill('SIGKILL');
      throw err;
    }
    return this.coordinator!;
  }

  #redisPort = 0;
  #exchangeRedisPort = 0;

  async #startRedis(): Promise<string> {
    this.#redisPort = await freePort();
    await this.#spawnRedis();
    return this.#urlOf(this.#redisPort);
  }

  /** The URL of a Redis this cluster started, its password included (never printed). */
  #urlOf(port: number): string {
    return `redis://:${encodeURIComponent(this.#redisPassword)}@127.0.0.1:${port}`;
  }

  /**
   * Restarts the cluster's own redis-server on the same port and data directory: SIGTERM makes
   * it write its AOF (SIGKILL does not: what survives is what the fsync policy wrote); the new
   * one loads it. `downMs` keeps it down that long in between.
   */
  async restartRedis(downMs = 0, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.redis) throw new Error('this cluster uses an outside Redis (--redis)');
    this.#supervisor?.release(this.redis);
    this.redis.proc.kill(signal);
    await this.redis.exited;
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    await this.#respawnRedis();
  }

  async #spawnRedis(): Promise<void> {
    this.redis = await this.#spawnRedisServer('redis', this.#redisPort, true);
  }

  async #respawnRedis(): Promise<ChildHandle> {
    await this.#spawnRedis();
    this.#watch(this.redis!, () => this.#respawnRedis());
    return this.redis!;
  }

  /** The exchange's Redis: nothing to persist (a lost step is recomputed), so no AOF at all. */
  async #startExchangeRedis(): Promise<string> {
    this.#exchangeRedisPort = await freePort();
    this.exchangeRedis = await this.#spawnRedisServer(
      'redis-exchange',
      this.#exchangeRedisPort,
      false,
    );
    return this.#urlOf(this.#exchangeRedisPort);
  }

  async #respawnExchangeRedis(): Promise<ChildHandle> {
    this.exchangeRedis = await this.#spawnRedisServer(
      'redis-exchange',
      this.#exchangeRedisPort,
      false,
    );
    this.#watch(this.exchangeRedis, () => this.#respawnExchangeRedis());
    return this.exchangeRedis;
  }

  async #spawnRedisServer(name: string, port: number, durable: boolean): Promise<ChildHandle> {
    // Absolute: redis-server changes into --dir before it opens its log file.
    const dir = path.resolve(this.options.runDir, name);
    fs.mkdirSync(dir, { recursive: true });
    const log = path.resolve(this.#log(name));
    const child = this.#spawn(
      name,
      durable ? 'redis' : 'exchange redis',
      [
        'redis-server',
        '-', // the rest of the config from stdin: the password, kept out of argv
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--appendonly',
        durable ? 'yes' : 'no',
        ...(durable ? ['--appendfsync', this.options.redisFsync ?? 'everysec'] : []),
        '--save',
        '',
        '--logfile',
        log,
      ],
      process.env,
      log,
      `requirepass ${this.#redisPassword}\n`,
    );
    // Redis logs to its file; readiness is the port answering an authenticated PING.
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.proc.exitCode !== null) throw new Error(`redis-server exited; see ${log}`);
      const answer = await authenticatedPing(port, this.#redisPassword);
      if (answer === 'ready') break;
      if (answer !== 'not yet') {
        child.proc.kill('SIGKILL');
        throw new Error(`redis-server on port ${port} refused our password: ${answer}`);
      }
      if (Date.now() > deadline) throw new Error(`redis-server did not answer; see ${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const auth = `password in ${this.redisPasswordFile}`;
    this.#say(
      durable
        ? `redis      redis://127.0.0.1:${port} (AOF in ${dir}; ${auth})`
        : `exchange   redis://127.0.0.1:${port} (no persistence: per-step exchange only; ${auth})`,
    );
    return child;
  }

  /** Starts (or restarts, on the same ports) the coordinator. */
  async startCoordinator(): Promise<void> {
    const o = this.options;
    const log = this.#log('coordinator');
    const child = this.#spawn(
      'coordinator',
      'coordinator',
      [
        process.execPath,
        '--import',
        'tsx',
        COORDINATOR_MAIN,
        '--port',
        String(this.#grpcPort),
        '--http-port',
        String(this.#httpPort),
        '--token-file',
        this.joinTokenFile,
        '--admin-token-file',
        this.adminTokenFile,
        ...(o.leaseMs === undefined ? [] : ['--lease-ms', String(o.leaseMs)]),
        // A local cluster's trials can use at most the workers it starts (more would never run).
        '--max-workers-per-trial',
        String(Math.max(1, o.workers)),
        // Checkpoints on disk under the run dir, not in Redis (MMIM_ARTIFACTS overrides).
        ...(process.env['MMIM_ARTIFACTS']
          ? []
          : ['--artifacts', `dir:${path.resolve(o.runDir, 'artifacts')}`]),
      ],
      this.#env(),
      log,
    );
    this.coordinator = child;
    this.#watch(child, () => this.#restartCoordinator());
    // Generous: a loaded 2-core machine takes a while to load and transpile the sources.
    const line = await waitForEvent(child, 'listening', 180_000, log);
    this.grpcAddress = String(line['address']);
    this.httpUrl = String(line['http']);
    this.#say(`coordinator ${this.grpcAddress} (gRPC)`);
    this.#say(`dashboard  ${this.httpUrl}/`);
  }

  startWorker(name: string): ChildHandle {
    const o = this.options;
    const log = this.#log(name);
    const child = this.#spawn(
      name,
      `worker ${name}`,
      [
        process.execPath,
        '--import',
        'tsx',
        WORKER_MAIN,
        '--coordinator',
        this.grpcAddress,
        '--token-file',
        this.joinTokenFile,
        '--name',
        name,
        '--run-dir',
        path.join(o.runDir, 'workers', name),
        ...(o.backend === undefined ? [] : ['--backend', o.backend]),
      ],
      this.#env(),
      log,
    );
    // A worker's stdout is not read; drain it so it never blocks.
    child.proc.stdout?.resume();
    const index = this.workers.findIndex((w) => w.name === name);
    if (index >= 0) this.workers[index] = child;
    else this.workers.push(child);
    this.#watch(child, () => Promise.resolve(this.startWorker(name)));
    return child;
  }

  /** Stops everything: workers and coordinator with SIGTERM (then SIGKILL), Redis last. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    // Nothing is restarted from here on, pending restarts included.
    this.#supervisor?.stop();
    const term = async (c: ChildHandle | null): Promise<void> => {
      if (!c || c.proc.exitCode !== null || c.proc.signalCode !== null) return;
      c.proc.kill('SIGTERM');
      const killer = setTimeout(() => c.proc.kill('SIGKILL'), 5000);
      await c.exited;
      clearTimeout(killer);
    };
    await Promise.all(this.workers.map(term));
    await term(this.coordinator);
    await Promise.all([term(this.redis), term(this.exchangeRedis)]);
    // A Redis still being waited for by an aborted start is in no field yet.
    await Promise.all([...this.#all].map(term));
  }
}
