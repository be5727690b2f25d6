/**
 * Server-sent events for the dashboard: one Redis subscription per server (ChangeHub), fanned
 * out to every open /api/events stream. A stream gets `event: change` + `data: <ChangeEvent>`
 * per change and a `: ping` comment every 15 s (so proxies keep it open and the browser notices
 * a dead server); it is cleaned up when the client goes away. A client that stops reading is
 * dropped once 1 MiB is queued for it rather than growing the coordinator's memory.
 */
import type { ServerResponse } from 'node:http';
import type { ChangeEvent, ExperimentStoreApi } from '@mmim/experiments';
import type { Logger } from '@mmim/runtime';

const MAX_QUEUED_BYTES = 1024 * 1024;

type Listener = (event: ChangeEvent) => void;

export class ChangeHub {
  private readonly listeners = new Set<Listener>();
  private subscription: Promise<() => Promise<void>> | null = null;

  constructor(
    private readonly store: ExperimentStoreApi,
    private readonly log: Logger,
  ) {}

  /** Adds a listener once the store subscription is live; returns its remover. */
  async add(listener: Listener): Promise<() => void> {
    if (this.subscription === null) {
      const pending = this.store.subscribe((event) => {
        for (const l of this.listeners) l(event);
      });
      this.subscription = pending;
      pending.catch((err: unknown) => {
        this.log.error({ err }, 'subscribing to experiment changes failed');
        if (this.subscription === pending) this.subscription = null; // the next client retries
      });
    }
    await this.subscription;
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  get size(): number {
    return this.listeners.size;
  }

  async close(): Promise<void> {
    this.listeners.clear();
    const pending = this.subscription;
    this.subscription = null;
    if (pending === null) return;
    try {
      await (
        await pending
      )();
    } catch (err) {
      this.log.warn({ err }, 'unsubscribing from experiment changes failed');
    }
  }
}

/** Open event streams, so the server can end them all when it closes. */
export class EventStreams {
  private readonly open = new Set<ServerResponse>();

  constructor(
    private readonly hub: ChangeHub,
    private readonly pingMs: number,
  ) {}

  /** Takes over `res` (headers already allowed by the caller) and streams changes into it. */
  async serve(res: ServerResponse, headers: Record<string, string>): Promise<void> {
    res.writeHead(200, {
      ...headers,
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    this.open.add(res);
    let remove: (() => void) | null = null;
    let ping: NodeJS.Timeout | null = null;
    const cleanup = (): void => {
      this.open.delete(res);
      if (ping !== null) clearInterval(ping);
      remove?.();
      remove = null;
    };
    res.on('close', cleanup);
    const write = (chunk: string): void => {
      if (res.writableEnded || res.destroyed) return;
      res.write(chunk);
      if (res.writableLength > MAX_QUEUED_BYTES) res.destroy(); // a stalled reader
    };
    try {
      remove = await this.hub.add((event) =>
        write(`event: change\ndata: ${JSON.stringify(event)}\n\n`),
      );
    } catch {
      write('event: error\ndata: {"error":"change feed unavailable"}\n\n');
      res.end();
      return;
    }
    if (res.destroyed) {
      cleanup(); // the client left while we subscribed
      return;
    }
    ping = setInterval(() => write(': ping\n\n'), this.pingMs);
    // Tells the client the stream is live: every change from now on reaches it.
    write('retry: 3000\n: connected\n\n');
  }

  get size(): number {
    return this.open.size;
  }

  closeAll(): void {
    for (const res of this.open) res.end();
    this.open.clear();
  }
}
