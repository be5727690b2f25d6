/**
 * `mmim up` supervises its children (real processes all the way down): a SIGKILLed worker and
 * then a SIGKILLed coordinator are each reported in one console line and restarted (the worker
 * registers again, the dashboard answers again on the same address, the workers re-register
 * there); SIGINT then ends every process it started, none restarted on the way out. A worker
 * that keeps dying is given up on: a clear line, the cluster stopped, exit code 1. A SIGTERM
 * while the cluster is still starting stops what was started (no orphaned Redis or coordinator).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { COORDINATOR_MAIN, WORKER_MAIN } from '@mmim/cli';
import { until } from './helpers.js';
import { alive, descendants, line, up, type Up } from './mmim-up.js';

function pidOf(u: Up, what: string, match: (cmd: string) => boolean): number {
  const found = descendants(u.proc.pid!).filter((d) => match(d.cmd));
  assert.equal(found.length, 1, `one ${what} under mmim up: ${JSON.stringify(found)}`);
  return found[0]!.pid;
}

const isWorker = (name: string) => (cmd: string) =>
  cmd.includes(WORKER_MAIN) && cmd.includes(` --name ${name} `);
const isCoordinator = (cmd: string): boolean => cmd.includes(COORDINATOR_MAIN);

interface WorkerRow {
  id: string;
  name: string;
  state: string;
  registeredAt: number;
}

async function workers(http: string): Promise<WorkerRow[]> {
  const res = await fetch(`${http}/api/workers`);
  if (!res.ok) throw new Error(`GET /api/workers: ${res.status}`);
  return ((await res.json()) as { workers: WorkerRow[] }).workers;
}

/** A local-0 row registered after `since` and taking work (its session is open). */
function freshIdle(http: string, name: string, since: number): () => Promise<WorkerRow | null> {
  return async () =>
    (await workers(http)).find(
      (w) => w.name === name && w.state === 'idle' && w.registeredAt > since,
    ) ?? null;
}

describe('mmim up supervises its children', { timeout: 900_000 }, () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-supervise-'));
  const runDir = path.join(tmp, 'run');
  const started: Up[] = [];
  const leftovers: number[] = [];
  after(async () => {
    // Whatever an assertion left running, orphans of a failed run included.
    for (const pid of leftovers) if (alive(pid)) process.kill(pid, 'SIGKILL');
    for (const u of started) {
      for (const d of descendants(u.proc.pid!)) process.kill(d.pid, 'SIGKILL');
      u.proc.kill('SIGKILL');
    }
  });

  it('restarts a SIGKILLed worker and coordinator, says so, and SIGINT ends them all', async () => {
    const u = up(runDir, ['--workers', '2']);
    started.push(u);
    const http = (await line(u, /^dashboard\s+(http:\/\/\S+)\/$/, 300_000))[1]!;
    await line(u, /^cluster up; Ctrl-C stops everything$/, 60_000);
    await until('both workers at the coordinator', 180_000, freshIdle(http, 'local-1', 0));
    const first = await until('local-0 at the coordinator', 180_000, freshIdle(http, 'local-0', 0));

    // A worker: reported, restarted, registered again (a new worker id, taking work).
    const worker = pidOf(u, 'local-0', isWorker('local-0'));
    const killedWorkerAt = Date.now();
    process.kill(worker, 'SIGKILL');
    const exitLine = await line(
      u,
      new RegExp(
        `^worker local-0 \\(pid ${worker}\\) exited \\(killed by SIGKILL\\) after [\\d.]+ s; ` +
          `restarting in 0\\.5 s \\(failure 1 in a row; log: .*local-0\\.log\\)$`,
      ),
      30_000,
    );
    assert.ok(exitLine);
    const restarted = Number(
      (await line(u, /^worker local-0 restarted \(pid (\d+)\)$/, 30_000))[1],
    );
    assert.notEqual(restarted, worker);
    assert.equal(pidOf(u, 'local-0', isWorker('local-0')), restarted);
    const again = await until(
      'the restarted local-0 at the coordinator',
      180_000,
      freshIdle(http, 'local-0', killedWorkerAt),
    );
    assert.notEqual(again.id, first.id, 'a new registration, not the old record');
    // The workers page shows the restart: the old registration lost, the new one taking work.
    await until('the killed registration shown lost', 30_000, async () =>
      (await workers(http)).some((w) => w.id === first.id && w.state === 'lost'),
    );

    // The coordinator: reported, restarted on the same address, the workers join it again.
    const coordinator = pidOf(u, 'coordinator', isCoordinator);
    const killedCoordinatorAt = Date.now();
    process.kill(coordinator, 'SIGKILL');
    await line(
      u,
      new RegExp(
        `^coordinator \\(pid ${coordinator}\\) exited \\(killed by SIGKILL\\) after [\\d.]+ s; restarting in 0\\.5 s`,
      ),
      30_000,
    );
    const coordinatorAgain = Number(
      (await line(u, /^coordinator restarted \(pid (\d+)\)$/, 300_000))[1],
    );
    assert.notEqual(coordinatorAgain, coordinator);
    const health = await fetch(`${http}/api/health`);
    assert.equal(health.status, 200, 'the dashboard answers again at the same address');
    for (const name of ['local-0', 'local-1']) {
      await until(
        `${name} registered with the new coordinator`,
        180_000,
        freshIdle(http, name, killedCoordinatorAt),
      );
    }

    // Redis (AOF): reported, restarted on the same port and data; the API reads it again.
    const redis = pidOf(u, 'redis-server', (cmd) => cmd.startsWith('redis-server'));
    process.kill(redis, 'SIGKILL');
    await line(u, new RegExp(`^redis \\(pid ${redis}\\) exited \\(killed by SIGKILL\\)`), 30_000);
    await line(u, /^redis restarted \(pid \d+\)$/, 60_000);
    await until('the API reading Redis again', 60_000, async () => {
      const res = await fetch(`${http}/api/sweeps`);
      return res.status === 200;
    });

    // Ctrl-C: everything ends, nothing restarted on the way out, no process left behind.
    const pids = descendants(u.proc.pid!).map((d) => d.pid);
    assert.ok(pids.length >= 4, `redis, coordinator, 2 workers: ${pids.join(' ')}`);
    const before = u.lines.length;
    u.proc.kill('SIGINT');
    const { code } = await u.exited;
    assert.equal(code, 0, u.stderr());
    const after = u.lines.slice(before);
    assert.ok(after.includes('stopping the cluster...'), after.join('\n'));
    assert.deepEqual(
      after.filter((l) => /restart|exited/.test(l)),
      [],
      'no exit reported or restart made during shutdown',
    );
    await until('every child gone', 10_000, () =>
      Promise.resolve(pids.every((p) => !alive(p)) || null),
    );
  });

  it('SIGTERM while the coordinator is still starting stops what was started', async () => {
    const u = up(path.join(tmp, 'early'), ['--workers', '1']);
    started.push(u);
    const early = await until(
      'the coordinator process started',
      120_000,
      () =>
        Promise.resolve(
          descendants(u.proc.pid!).some((d) => isCoordinator(d.cmd))
            ? descendants(u.proc.pid!)
            : null,
        ),
      50,
    );
    leftovers.push(...early.map((d) => d.pid));
    assert.ok(
      !u.lines.some((l) => l.startsWith('coordinator ')),
      `the coordinator was already up: ${u.lines.join('\n')}`,
    );
    u.proc.kill('SIGTERM');
    const { code, signal } = await u.exited;
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, u.stderr());
    assert.ok(u.lines.includes('stopped before the cluster was up'), u.lines.join('\n'));
    await until('redis and the coordinator gone', 10_000, () =>
      Promise.resolve(early.every((d) => !alive(d.pid)) || null),
    );
  });

  it('gives up on a worker that keeps dying: a clear message, everything stopped, exit 1', async () => {
    const u = up(runDir, ['--workers', '1']);
    started.push(u);
    await line(u, /^cluster up; Ctrl-C stops everything$/, 300_000);
    const pids = descendants(u.proc.pid!).map((d) => d.pid);
    let victim = pidOf(u, 'local-0', isWorker('local-0'));
    for (let failure = 1; failure <= 5; failure++) {
      const from = u.lines.length;
      process.kill(victim, 'SIGKILL');
      if (failure === 5) break;
      await line(u, new RegExp(`^worker local-0 \\(pid ${victim}\\) exited`), 30_000, from);
      victim = Number((await line(u, /^worker local-0 restarted \(pid (\d+)\)$/, 60_000, from))[1]);
      pids.push(victim);
    }
    const gaveUp = await line(
      u,
      new RegExp(
        `^worker local-0 \\(pid ${victim}\\) exited \\(killed by SIGKILL\\) after [\\d.]+ s; ` +
          'giving up: 5 failures in a row, each within 60 s of starting',
      ),
      60_000,
    );
    assert.ok(gaveUp);
    const { code } = await u.exited;
    assert.equal(code, 1);
    assert.match(
      u.stderr(),
      /mmim: worker local-0 failed 5 times in a row; the cluster was stopped \(log: .*local-0\.log\)/,
    );
    await until('every child gone', 10_000, () =>
      Promise.resolve(pids.every((p) => !alive(p)) || null),
    );
  });
});
