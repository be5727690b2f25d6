/**
 * The coordinator under load, alone in its own process so that its CPU and memory are its own:
 * starts the gRPC `Coordinator` (no Redis needed), prints `{"ready":...}` then one JSON line of
 * its own figures per second on stdout, and exits when stdin closes or on SIGTERM.
 *
 * Probe: the coordinator does not answer heartbeats, so to time a heartbeat's round trip this
 * script echoes each one it receives as a Ping down the same Session stream, carrying the
 * heartbeat's `step` (the simulator's sequence number) in `sent_at_ms`. The echo runs on the
 * pool's 'heartbeat' event, i.e. after the coordinator has accepted the heartbeat and renewed
 * the lease, so the round trip covers the coordinator's whole heartbeat path.
 *
 * Env: MMIM_LOAD_TOKEN (join token), MMIM_LOAD_LEASE_MS (default 3000).
 */
import { Coordinator } from '@mmim/coordinator';
import { createLogger } from '@mmim/runtime';

const token = process.env['MMIM_LOAD_TOKEN'];
if (!token) throw new Error('MMIM_LOAD_TOKEN is required');
const leaseMs = Number(process.env['MMIM_LOAD_LEASE_MS'] ?? 3000);

process.env['MMIM_LOG_LEVEL'] ??= 'warn';
const coordinator = await Coordinator.start({
  host: '127.0.0.1',
  port: 0,
  joinToken: token,
  leaseMs,
  log: createLogger('load-coordinator'),
});

const counts = { heartbeats: 0, metrics: 0, lost: 0, registered: 0 };
coordinator.pool.on('registered', () => (counts.registered += 1));
coordinator.pool.on('lost', () => (counts.lost += 1));
coordinator.registry.on('metric', () => (counts.metrics += 1));
coordinator.pool.on('heartbeat', (worker, hb) => {
  counts.heartbeats += 1;
  worker.session?.send({ ping: { sentAtMs: hb.step } });
});

const line = (o: unknown): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};

line({ ready: true, address: coordinator.address, pid: process.pid });
const timer = setInterval(() => {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  const snapshot = coordinator.pool.snapshot();
  line({
    t: Date.now(),
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    arrayBuffers: mem.arrayBuffers,
    workers: snapshot.length,
    connected: snapshot.filter((w) => w.hasSession).length,
    ...counts,
  });
}, 1000);

let closing = false;
const shutdown = async (): Promise<void> => {
  if (closing) return;
  closing = true;
  clearInterval(timer);
  await coordinator.close(500);
  process.exit(0);
};
process.stdin.on('end', () => void shutdown());
process.stdin.resume();
process.on('SIGTERM', () => void shutdown());
