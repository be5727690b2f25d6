import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { settle, trialHarness } from '../testing/trial-harness.js';

describe('WorkerView', () => {
  it('shows live workers with their trial and share of the throughput, then the lost', async () => {
    const h = trialHarness({ leaseMs: 1000 });
    await h.manager.start();
    const a = h.join('a');
    const b = h.join('b');
    await h.submit('pair', 2);
    h.manager.workers.noteThroughput('pair', 100);
    a.beat({ state: 'WORKER_STATE_TRAINING', trialId: 'pair', rank: 0, step: 7 });
    const [sa, sb] = h.manager.workerSnapshots();
    assert.deepEqual(
      [sa?.name, sa?.state, sa?.trialId, sa?.rank, sa?.step, sa?.samplesPerSecond],
      ['a', 'training', 'pair', 0, 7, 50],
    );
    assert.equal(sb?.rank, 1);
    h.tick(600);
    a.beat({ state: 'WORKER_STATE_TRAINING', trialId: 'pair', rank: 0 });
    h.tick(600);
    h.pool.sweep(); // b silent for a lease
    await settle();
    const names = h.manager.workerSnapshots().map((s) => `${s.name}:${s.state}`);
    assert.deepEqual(names, ['a:training', 'b:lost']);
    await h.manager.workers.publish(h.store);
    assert.equal((await h.store.listWorkers()).length, 2);
    void b;
  });
});
