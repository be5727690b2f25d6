// @ts-check
/**
 * Container health check of a worker. Exits 0 when healthy, 1 when not.
 *
 * 1. Liveness file: when MMIM_LIVENESS_FILE names a file that exists, the worker is healthy
 *    while the file's mtime is at most MMIM_LIVENESS_MAX_AGE_S seconds old (default 60). The
 *    worker touches it every 5 s while its event loop turns (apps/worker/src/index.ts); not
 *    tied to reaching the coordinator, because a worker keeps training through a coordinator
 *    restart. An absent file is not an error: it falls through to the process check.
 * 2. Process check: a process whose command line runs the mmim CLI (or MMIM_CLI) with the
 *    `worker` subcommand exists. In a container whose PID 1 is tini, the container stops with
 *    the worker anyway; this check mainly catches a wrapper left running without its worker.
 *
 * The coordinator is the real judge of a worker's liveness: a worker that stops
 * heartbeating loses its lease (--lease-ms) and its trial group is re-formed without it.
 * Plain JavaScript so it starts with bare `node` (see grpc-health.mjs).
 */
import fs from 'node:fs';
import path from 'node:path';

/** @returns {string | null} why the liveness file says unhealthy, or null if it is fresh/absent */
function checkLivenessFile() {
  const file = process.env['MMIM_LIVENESS_FILE'];
  if (!file) return null;
  const maxAgeS = Number(process.env['MMIM_LIVENESS_MAX_AGE_S'] ?? '60');
  if (!Number.isFinite(maxAgeS) || maxAgeS <= 0) return 'MMIM_LIVENESS_MAX_AGE_S must be > 0';
  let stat;
  try {
    stat = fs.statSync(file);
  } catch {
    return null;
  }
  const ageS = (Date.now() - stat.mtimeMs) / 1000;
  return ageS <= maxAgeS ? null : `${file} last touched ${ageS.toFixed(0)} s ago (> ${maxAgeS} s)`;
}

/** @returns {number | null} the pid of a running worker, or null */
function findWorkerProcess() {
  const cli = path.basename(process.env['MMIM_CLI'] ?? 'mmim.js');
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let argv;
    try {
      argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // exited meanwhile, or not ours to read
    }
    const at = argv.findIndex((a) => path.basename(a) === cli);
    if (at >= 0 && argv[at + 1] === 'worker') return Number(entry);
  }
  return null;
}

const stale = checkLivenessFile();
if (stale) {
  process.stderr.write(`unhealthy: ${stale}\n`);
  process.exit(1);
}
const pid = findWorkerProcess();
if (pid === null) {
  process.stderr.write('unhealthy: no `mmim worker` process is running\n');
  process.exit(1);
}
process.stdout.write(`healthy: worker pid ${pid}\n`);
process.exit(0);
