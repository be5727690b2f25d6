import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CoordinatorMessage } from '@mmim/protocol';
import { createLogger } from '@mmim/runtime';
import { WorkerPool, type SessionHandle } from './pool.js';
import { GangScheduler, pickGang, type Placement } from './scheduler.js';

const silent = (() => {
  process.env['MMIM_LOG_LEVEL'] ??= 'silent';
  return createLogger('test');
})();

/** A pool whose clock the test moves, and workers whose sessions record what they were sent. */
function setup(leaseMs = 1000) {
  let now = 0;
  const pool = new WorkerPool({ leaseMs, now: () => now });
  const scheduler = new GangScheduler(pool, silent);
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

  it('keeps first-come order: a large head trial is not overtaken by small ones', () => {
    const { scheduler, join } = setup();
    join('a');
    scheduler.submit({ trialId: 'big', worldSize: 2, configJson: '{}' });
    scheduler.submit({ trialId: 'small', worldSize: 1, configJson: '{}' });
    assert.deepEqual(
      scheduler.pending().map((t) => t.trialId),
      ['big', 'small'],
    );
    join('b');
    assert.deepEqual(
      scheduler.running().map((p) => p.trialId),
      ['big'],
    );
    assert.deepEqual(
      scheduler.pending().map((t) => t.trialId),
      ['small'],
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
