import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CoordinatorMessage } from '@mmim/protocol';
import { createLogger } from '@mmim/runtime';
import { WorkerPool, type SessionHandle } from './pool.js';
import { GangScheduler, pickGang, type BackfillPolicy, type Placement } from './scheduler.js';

const silent = (() => {
  process.env['MMIM_LOG_LEVEL'] ??= 'silent';
  return createLogger('test');
})();

/** A pool whose clock the test moves, and workers whose sessions record what they were sent. */
function ids(list: readonly { trialId: string }[]): string[] {
  return list.map((t) => t.trialId);
}

function setup(leaseMs = 1000, backfill?: Partial<BackfillPolicy>) {
  let now = 0;
  const pool = new WorkerPool({ leaseMs, now: () => now });
  const scheduler = new GangScheduler(pool, silent, {
    now: () => now,
    ...(backfill ? { backfill } : {}),
  });
  const inbox = new Map<string, CoordinatorMessage[]>();
  const join = (name: string): string => {
    const w = pool.register({
      workerName: name,
      backend: 'cpu',
      device: 'cpu',
      memoryBytes: 0,
      version: '0',
      adapter: null,
    });
    const messages: CoordinatorMessage[] = [];
    inbox.set(w.id, messages);
    const session: SessionHandle = { send: (m) => messages.push(m) };
    pool.attach(w.id, session, w.sessionKey);
    pool.heartbeat(w.id, {
      state: 'WORKER_STATE_IDLE',
      trialId: '',
      rank: 0,
      step: 0,
      stepTimeMs: 0,
      sentAtMs: 0,
    });
    return w.id;
  };
  return { pool, scheduler, inbox, join, tick: (ms: number) => (now += ms) };
}

describe('pickGang', () => {
  it('takes exactly worldSize workers, or none', () => {
    assert.deepEqual(pickGang(['a', 'b', 'c'], 2), ['a', 'b']);
    assert.deepEqual(pickGang(['a', 'b', 'c'], 3), ['a', 'b', 'c']);
    assert.equal(pickGang(['a', 'b'], 3), null);
    assert.equal(pickGang([], 1), null);
  });
});

describe('GangScheduler', () => {
  it('assigns nothing until the whole gang is idle, then every rank at once', () => {
    const { scheduler, inbox, join, pool } = setup();
    const placed: Placement[] = [];
    scheduler.on('placed', (p) => placed.push(p));
    const a = join('a');
    const b = join('b');
    scheduler.submit({ trialId: 't1', worldSize: 3, configJson: '{"lr":0.001}' });
    assert.equal(placed.length, 0);
    assert.equal(inbox.get(a)!.length + inbox.get(b)!.length, 0, 'no partial group');
    assert.equal(pool.get(a)!.assignment, null, 'no worker held back for a partial group');

    const c = join('c');
    assert.equal(placed.length, 1);
    assert.deepEqual(placed[0]!.workerIds, [a, b, c]);
    [a, b, c].forEach((id, rank) => {
      assert.deepEqual(inbox.get(id), [
        { assignTrial: { trialId: 't1', rank, worldSize: 3, configJson: '{"lr":0.001}' } },
      ]);
      assert.deepEqual(pool.get(id)!.assignment, { trialId: 't1', rank, worldSize: 3 });
    });
    assert.equal(pool.idleWorkers().length, 0);
    assert.deepEqual(scheduler.pending(), []);
  });

  it('keeps first-come order with backfill off: a large head is not overtaken', () => {
    const { scheduler, join } = setup(1000, { maxJumps: 0 });
    join('a');
    join('b');
    scheduler.submit({ trialId: 'busy', worldSize: 1, configJson: '{}' });
    scheduler.submit({ trialId: 'big', worldSize: 2, configJson: '{}' });
    scheduler.submit({ trialId: 'small', worldSize: 1, configJson: '{}' });
    assert.deepEqual(ids(scheduler.pending()), ['big', 'small']);
    assert.equal(scheduler.headReserved(), true);
    scheduler.complete('busy');
    assert.deepEqual(ids(scheduler.running()), ['big']);
    assert.deepEqual(ids(scheduler.pending()), ['small']);
  });

  it('backfills a waiting head at most maxJumps times, then reserves the freed workers', () => {
    const { scheduler, join } = setup(1000, { maxJumps: 2, maxWaitMs: 60_000 });
    join('a');
    join('b');
    scheduler.submit({ trialId: 'busy', worldSize: 1, configJson: '{}' });
    scheduler.submit({ trialId: 'head', worldSize: 2, configJson: '{}' });
    for (const n of [1, 2]) {
      scheduler.submit({ trialId: `small-${n}`, worldSize: 1, configJson: '{}' });
      assert.deepEqual(ids(scheduler.running()), ['busy', `small-${n}`], `jump ${n}`);
      scheduler.complete(`small-${n}`);
    }
    assert.equal(scheduler.headReserved(), true);
    scheduler.submit({ trialId: 'small-3', worldSize: 1, configJson: '{}' });
    assert.deepEqual(ids(scheduler.running()), ['busy'], 'the idle worker waits for the head');
    scheduler.complete('busy');
    assert.deepEqual(ids(scheduler.running()), ['head']);
    scheduler.complete('head');
    assert.deepEqual(ids(scheduler.running()), ['small-3']);
  });

  it('reserves a head that waited maxWaitMs, however few trials jumped it', () => {
    const { scheduler, join, tick } = setup(1_000_000, { maxJumps: 100, maxWaitMs: 5000 });
    join('a');
    join('b');
    scheduler.submit({ trialId: 'busy', worldSize: 1, configJson: '{}' });
    scheduler.submit({ trialId: 'head', worldSize: 2, configJson: '{}' });
    scheduler.submit({ trialId: 'small-1', worldSize: 1, configJson: '{}' });
    assert.deepEqual(ids(scheduler.running()), ['busy', 'small-1']);
    scheduler.complete('small-1');
    tick(5000);
    scheduler.submit({ trialId: 'small-2', worldSize: 1, configJson: '{}' });
    assert.deepEqual(ids(scheduler.running()), ['busy']);
    assert.equal(scheduler.headReserved(), true);
  });

  it('lets a trial larger than the registered workers wait without blocking anyone', () => {
    const { scheduler, join } = setup(1000, { maxJumps: 0 });
    join('a');
    scheduler.submit({ trialId: 'too-big', worldSize: 2, configJson: '{}' });
    for (const n of [1, 2, 3]) {
      scheduler.submit({ trialId: `small-${n}`, worldSize: 1, configJson: '{}' });
      assert.deepEqual(ids(scheduler.running()), [`small-${n}`]);
      scheduler.complete(`small-${n}`);
    }
    assert.equal(scheduler.headReserved(), false);
    join('b'); // enough workers again: it is placed
    assert.deepEqual(ids(scheduler.running()), ['too-big']);
  });

  it('refuses a backfill policy it cannot follow', () => {
    const pool = new WorkerPool({ leaseMs: 1000 });
    assert.throws(
      () => new GangScheduler(pool, silent, { backfill: { maxJumps: -1 } }),
      /maxJumps/,
    );
    assert.throws(
      () => new GangScheduler(pool, silent, { backfill: { maxWaitMs: Number.NaN } }),
      /maxWaitMs/,
    );
  });

  it('frees workers when a trial completes and places the next one', () => {
    const { scheduler, join, pool } = setup();
    const a = join('a');
    scheduler.submit({ trialId: 't1', worldSize: 1, configJson: '{}' });
    scheduler.submit({ trialId: 't2', worldSize: 1, configJson: '{}' });
    assert.equal(pool.get(a)!.assignment?.trialId, 't1');
    scheduler.complete('t1');
    assert.equal(pool.get(a)!.assignment?.trialId, 't2');
  });

  it('stops the other ranks and reports the trial broken when a rank is lost', () => {
    const { scheduler, join, pool, inbox, tick } = setup(1000);
    const a = join('a');
    const b = join('b');
    scheduler.submit({ trialId: 't1', worldSize: 2, configJson: '{}' });
    const broken: string[] = [];
    scheduler.on('broken', (e) => broken.push(`${e.trial.trialId}:${e.lostRank}`));
    tick(600);
    pool.heartbeat(a, {
      state: 'WORKER_STATE_TRAINING',
      trialId: 't1',
      rank: 0,
      step: 1,
      stepTimeMs: 5,
      sentAtMs: 0,
    });
    tick(600); // b silent for 1200 ms > lease
    assert.deepEqual(
      pool.sweep().map((w) => w.id),
      [b],
    );
    assert.deepEqual(broken, ['t1:1']);
    assert.deepEqual(inbox.get(a)!.at(-1), {
      stop: { trialId: 't1', reason: `rank 1 (worker ${b}) was lost` },
    });
    assert.equal(pool.get(a)!.assignment, null);
    assert.equal(pool.get(b), undefined);
  });

  it('rejects bad and duplicate trials, and cancels queued ones', () => {
    const { scheduler } = setup();
    assert.throws(
      () => scheduler.submit({ trialId: 'x', worldSize: 0, configJson: '{}' }),
      /worldSize/,
    );
    scheduler.submit({ trialId: 'x', worldSize: 2, configJson: '{}' });
    assert.throws(
      () => scheduler.submit({ trialId: 'x', worldSize: 2, configJson: '{}' }),
      /already/,
    );
    assert.equal(scheduler.cancel('x'), true);
    assert.equal(scheduler.cancel('x'), false);
  });
});

describe('WorkerPool leases', () => {
  it('keeps a heartbeating worker and drops a silent one after its lease', () => {
    const { pool, join, tick } = setup(1000);
    const a = join('a');
    const b = join('b');
    const lost: string[] = [];
    pool.on('lost', (w) => lost.push(w.id));
    for (let i = 0; i < 5; i++) {
      tick(400);
      pool.heartbeat(a, {
        state: 'WORKER_STATE_IDLE',
        trialId: '',
        rank: 0,
        step: 0,
        stepTimeMs: 0,
        sentAtMs: 0,
      });
      pool.sweep();
    }
    assert.deepEqual(lost, [b]);
    assert.equal(pool.get(a)?.status, 'connected');
    assert.equal(
      pool.heartbeat(b, {
        state: 'WORKER_STATE_IDLE',
        trialId: '',
        rank: 0,
        step: 0,
        stepTimeMs: 0,
        sentAtMs: 0,
      }),
      false,
    );
  });

  it('binds a session only with the key issued at registration, and renews only from it', () => {
    const { pool, join } = setup();
    const a = join('a');
    const real = pool.get(a)!.session!;
    const impostor: SessionHandle = { send: () => undefined };
    assert.equal(pool.attach(a, impostor, 'guessed'), 'denied');
    assert.equal(pool.get(a)!.session, real, 'the real session stays bound');
    // A heartbeat on a stream that is not the bound one renews nothing.
    const before = pool.get(a)!.lastSeen;
    const idle = {
      state: 'WORKER_STATE_IDLE' as const,
      trialId: '',
      rank: 0,
      step: 0,
      stepTimeMs: 0,
      sentAtMs: 0,
    };
    assert.equal(pool.heartbeat(a, idle, impostor), 'stale');
    assert.equal(pool.get(a)!.lastSeen, before);
    assert.equal(pool.heartbeat(a, idle, real), true);
    // The key never shows in a snapshot (they feed the API).
    assert.equal(JSON.stringify(pool.snapshot()).includes(pool.get(a)!.sessionKey), false);
  });

  it('does not let a replaced session detach its successor', () => {
    const { pool, join } = setup();
    const a = join('a');
    const old = pool.get(a)!.session!;
    const fresh: SessionHandle = { send: () => undefined };
    pool.attach(a, fresh, pool.get(a)!.sessionKey);
    pool.detach(a, old);
    assert.equal(pool.get(a)!.session, fresh);
    pool.detach(a, fresh);
    assert.equal(pool.get(a)!.status, 'registered');
  });
});
