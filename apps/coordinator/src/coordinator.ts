import fs from 'node:fs';
import { ReflectionService } from '@grpc/reflection';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import {
  HealthImplementation,
  loadProtocol,
  SERVER_CHANNEL_OPTIONS,
  WORKER_REGISTRY_SERVICE,
} from '@mmim/protocol';
import type { Logger } from '@mmim/runtime';
import { JoinTokenAuth } from './auth.js';
import { WorkerPool } from './pool.js';
import { WorkerRegistryService } from './registry-service.js';
import { GangScheduler, type BackfillPolicy } from './scheduler.js';

/** PEM file paths; `caFile` turns on mutual TLS (workers must present a cert it signed). */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  caFile?: string;
}

export interface CoordinatorOptions {
  /** Bind address; 127.0.0.1 unless workers on other hosts must reach it. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  joinToken: string;
  leaseMs: number;
  tls?: TlsFiles;
  /** How far smaller trials may jump a waiting head of the queue (GangScheduler). */
  backfill?: Partial<BackfillPolicy>;
  log: Logger;
}

function serverCredentials(tls: TlsFiles | undefined): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  const ca = tls.caFile ? fs.readFileSync(tls.caFile) : null;
  return ServerCredentials.createSsl(
    ca,
    [{ cert_chain: fs.readFileSync(tls.certFile), private_key: fs.readFileSync(tls.keyFile) }],
    ca !== null,
  );
}

/** A running coordinator: the gRPC server plus the state its services share. */
export class Coordinator {
  readonly pool: WorkerPool;
  readonly scheduler: GangScheduler;
  readonly registry: WorkerRegistryService;
  readonly health: HealthImplementation;
  readonly #server: Server;
  readonly #log: Logger;
  #address = '';

  readonly #options: CoordinatorOptions;

  private constructor(options: CoordinatorOptions) {
    this.#options = options;
    this.#log = options.log;
    this.pool = new WorkerPool({ leaseMs: options.leaseMs });
    this.scheduler = new GangScheduler(
      this.pool,
      options.log,
      options.backfill ? { backfill: options.backfill } : {},
    );
    this.registry = new WorkerRegistryService(
      this.pool,
      new JoinTokenAuth(options.joinToken),
      options.log,
    );
    this.health = new HealthImplementation({
      '': 'NOT_SERVING',
      [WORKER_REGISTRY_SERVICE]: 'NOT_SERVING',
    });
    this.#server = new Server(SERVER_CHANNEL_OPTIONS);
    this.registry.addToServer(this.#server);
    this.health.addToServer(this.#server);
    new ReflectionService(loadProtocol().packageDefinition).addToServer(this.#server);
    this.pool.on('lost', (w) =>
      this.#log.warn(
        { workerId: w.id, workerName: w.capabilities.workerName, lastSeen: w.lastSeen },
        'worker lost',
      ),
    );
  }

  /** Binds, starts the lease timer and reports SERVING. */
  static async start(options: CoordinatorOptions): Promise<Coordinator> {
    const c = Coordinator.create(options);
    await c.listen();
    return c;
  }

  /**
   * A coordinator that does not listen yet: whoever builds on its pool, scheduler and registry
   * (the trial layer) attaches first, so no worker message arrives before it is ready.
   */
  static create(options: CoordinatorOptions): Coordinator {
    return new Coordinator(options);
  }

  async listen(): Promise<void> {
    const options = this.#options;
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    const port = await new Promise<number>((resolve, reject) => {
      this.#server.bindAsync(`${host}:${options.port}`, serverCredentials(options.tls), (err, p) =>
        err ? reject(err) : resolve(p),
      );
    });
    this.#address = `${host}:${port}`;
    this.pool.start();
    this.health.setStatus('', 'SERVING');
    this.health.setStatus(WORKER_REGISTRY_SERVICE, 'SERVING');
  }

  /** host:port as bound (the real port when 0 was asked for). */
  get address(): string {
    return this.#address;
  }

  get port(): number {
    return Number(this.#address.slice(this.#address.lastIndexOf(':') + 1));
  }

  /**
   * Reports NOT_SERVING, then lets calls finish for up to `graceMs` before cutting them. Worker
   * Session streams never finish on their own, so the force step is the normal path for them.
   */
  async close(graceMs = 2000): Promise<void> {
    this.health.setStatus('', 'NOT_SERVING');
    this.health.setStatus(WORKER_REGISTRY_SERVICE, 'NOT_SERVING');
    this.pool.stop();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, graceMs);
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
