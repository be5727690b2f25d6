/**
 * The restart rule (backoff, cap, give-up, reset after a healthy run) and the supervisor's
 * bookkeeping around it, with stand-in children whose exits the test triggers. The real
 * processes are in test/cluster/supervise.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RestartTracker } from './restart-policy.js';
import {
  describeSupervision,
  supervisionRecord,
  Supervisor,
  type SupervisedChild,
  type SupervisionEvent,
} from './supervisor.js';

const policy = { initialDelayMs: 500, maxDelayMs: 4000, stableMs: 60_000, maxRapidFailures: 6 };

describe('RestartTracker', () => {
  it('doubles the delay per rapid failure up to the cap, then gives up', () => {
    const t = new RestartTracker(policy);
    const got = [1, 2, 3, 4, 5, 6].map(() => t.failed(100));
    assert.deepEqual(got, [
      { action: 'restart', delayMs: 500, failures: 1 },
      { action: 'restart', delayMs: 1000, failures: 2 },
      { action: 'restart', delayMs: 2000, failures: 3 },
      { action: 'restart', delayMs: 4000, failures: 4 },
      { action: 'restart', delayMs: 4000, failures: 5 },
      { action: 'give-up', failures: 6 },
    ]);
  });

  it('starts counting again after a run of stableMs (a healthy child that crashed once)', () => {
    const t = new RestartTracker(policy);
    for (let i = 0; i < 5; i++) t.failed(10);
    assert.deepEqual(t.failed(60_000), { action: 'restart', delayMs: 500, failures: 1 });
    assert.deepEqual(t.failed(10), { action: 'restart', delayMs: 1000, failures: 2 });
  });

  it('refuses a policy that could never restart or never give up', () => {
    assert.throws(() => new RestartTracker({ ...policy, maxRapidFailures: 0 }), /maxRapidFailures/);
    assert.throws(() => new RestartTracker({ ...policy, maxDelayMs: 100 }), /initialDelayMs/);
  });
});

interface Stand {
  child: SupervisedChild;
  exit: (code: number | null, signal: NodeJS.Signals | null) => void;
}

let nextPid = 1000;
function stand(name: string): Stand {
  let exit!: Stand['exit'];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => {
    exit = (code, signal) => r({ code, signal });
  });
  return {
    child: { name, label: `worker ${name}`, pid: nextPid++, log: `/logs/${name}.log`, exited },
    exit,
  };
}

const fast = { initialDelayMs: 10, maxDelayMs: 40, stableMs: 60_000, maxRapidFailures: 3 };
const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('Supervisor', () => {
  it('reports an exit, restarts after the backoff, and gives up after the rapid failures', async () => {
    const events: SupervisionEvent[] = [];
    const gaveUp: SupervisionEvent[] = [];
    const s = new Supervisor(
      fast,
      (e) => events.push(e),
      (e) => gaveUp.push(e),
    );
    const started: Stand[] = [];
    const start = (): Stand => {
      const st = stand('w0');
      started.push(st);
      s.watch(st.child, () => Promise.resolve(start().child));
      return st;
    };
    start();
    started[0]!.exit(null, 'SIGKILL');
    await settle(400);
    assert.equal(started.length, 2, 'restarted once');
    assert.deepEqual(
      events.map((e) => e.kind),
      ['exited', 'restarted'],
    );
    const first = events[0] as Extract<SupervisionEvent, { kind: 'exited' }>;
    assert.equal(first.signal, 'SIGKILL');
    assert.equal(first.pid, started[0]!.child.pid);
    assert.equal(first.restartInMs, 10);
    assert.match(
      describeSupervision(first),
      /^worker w0 \(pid \d+\) exited \(killed by SIGKILL\) after 0\.\d s; restarting in 0\.0 s \(failure 1 in a row; log: \/logs\/w0\.log\)$/,
    );
    assert.deepEqual(supervisionRecord(first), {
      event: 'exited',
      child: 'worker w0',
      pid: started[0]!.child.pid,
      code: null,
      signal: 'SIGKILL',
      ranMs: first.ranMs,
      failures: 1,
      log: '/logs/w0.log',
      restartInMs: 10,
    });
    assert.deepEqual(
      supervisionRecord({ kind: 'restart-failed', child: 'coordinator', err: new Error('boom') }),
      {
        event: 'restart-failed',
        child: 'coordinator',
        error: 'boom',
      },
    );
    started[1]!.exit(1, null);
    await settle(400);
    started[2]!.exit(1, null);
    await settle(400);
    assert.equal(started.length, 3, 'no restart after the give-up');
    assert.equal(gaveUp.length, 1);
    assert.match(
      describeSupervision(gaveUp[0]!),
      /^worker w0 \(pid \d+\) exited \(exit code 1\) .*; giving up: 3 failures in a row, each within 60 s of starting/,
    );
  });

  it('restarts nothing once stopped, nor a released child, nor a replaced one', async () => {
    const events: SupervisionEvent[] = [];
    const s = new Supervisor(
      fast,
      (e) => events.push(e),
      () => {},
    );
    let restarts = 0;
    const restart = (): Promise<SupervisedChild> => {
      restarts++;
      return Promise.resolve(stand('x').child);
    };
    const released = stand('r');
    s.watch(released.child, restart);
    s.release(released.child);
    released.exit(0, null);
    const old = stand('w');
    s.watch(old.child, restart);
    s.watch(stand('w').child, restart); // a newer start of the same name
    old.exit(null, 'SIGKILL');
    const late = stand('z');
    s.watch(late.child, restart);
    late.exit(null, 'SIGINT');
    s.stop(); // inside the exit grace: the shutdown's own exits are not failures
    await settle(400);
    assert.equal(restarts, 0);
    assert.deepEqual(events, []);
  });
});
