import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CheckpointInfo } from './checkpoints.js';
import { DEFAULT_RETENTION, planRetention, retentionOf, type RetentionTrial } from './retention.js';

const ckpt = (bytes: number): CheckpointInfo => ({
  epoch: 1,
  bytes,
  sha256: 'x',
  savedAt: 0,
  store: 'dir',
  key: 'k',
  attempt: 1,
});

const trial = (
  id: string,
  state: RetentionTrial['state'],
  configKey: string,
  bestValue: number | null,
): RetentionTrial => ({ id, state, configKey, bestValue, last: ckpt(10), best: ckpt(100) });

const dropped = (plan: ReturnType<typeof planRetention>): string[] =>
  plan.drop.map((d) => `${d.trialId}:${d.kind}`).sort();

describe('planRetention', () => {
  const sweep = [
    trial('a1', 'completed', 'A', 0.5),
    trial('a2', 'completed', 'A', 0.7), // A mean 0.6
    trial('b1', 'completed', 'B', 0.4), // B mean 0.4 (best when minimizing)
    trial('c1', 'completed', 'C', 0.9),
    trial('c2', 'running', 'C', null),
    trial('d1', 'completed', 'D', 1.2),
    trial('p1', 'pruned', 'E', 2.0),
    trial('f1', 'failed', 'F', null),
    trial('q1', 'queued', 'G', null),
  ];

  it("defaults: keeps the best configs' seeds and running trials, drops ended lasts and the rest", () => {
    const plan = planRetention(sweep, { ...DEFAULT_RETENTION, keepBestTrials: 2 }, 'minimize');
    assert.deepEqual(dropped(plan), [
      'a1:last',
      'a2:last',
      'b1:last',
      'c1:last',
      'd1:best', // B 0.4 and A 0.6 are the 2 best; C 0.9 still has a seed running
      'd1:last',
      'f1:best',
      'f1:last',
      'p1:best',
      'p1:last',
    ]);
    const keep = new Map(plan.keep.map((d) => [`${d.trialId}:${d.kind}`, d.reason]));
    assert.match(keep.get('b1:best') ?? '', /among the 2 best/);
    assert.match(keep.get('a2:best') ?? '', /among the 2 best/, 'every seed of a best config');
    assert.match(keep.get('c1:best') ?? '', /other seeds of its config still run/);
    assert.match(keep.get('c2:last') ?? '', /running: a retry resumes/);
    assert.match(keep.get('q1:last') ?? '', /queued/);
    assert.equal(plan.dropBytes, 7 * 10 + 3 * 100);
  });

  it('maximize flips the ranking; keep_last_per_trial and delete_pruned: false keep those', () => {
    const plan = planRetention(
      sweep,
      { keepBestTrials: 1, keepLastPerTrial: true, deletePruned: false },
      'maximize',
    );
    // D (1.2) is the best config now; pruned E is ranked among completed only, so it is dropped
    // as "not among the best", but its last is kept (keep_last_per_trial).
    assert.deepEqual(dropped(plan), ['a1:best', 'a2:best', 'b1:best', 'f1:best', 'p1:best']);
  });

  it("pins the sweep record's best config even when keep_best_trials is 0", () => {
    const plan = planRetention(sweep, { ...DEFAULT_RETENTION, keepBestTrials: 0 }, 'minimize', [
      'b1',
    ]);
    assert.ok(!dropped(plan).includes('b1:best'));
    assert.ok(dropped(plan).includes('a1:best'));
    assert.match(plan.keep.find((d) => d.trialId === 'b1')?.reason ?? '', /sweep's best config/);
  });

  it('is idempotent: planning the outcome of a plan drops nothing more', () => {
    const plan = planRetention(sweep, DEFAULT_RETENTION, 'minimize');
    const gone = new Set(dropped(plan));
    const after = sweep.map((t) => ({
      ...t,
      last: gone.has(`${t.id}:last`) ? null : t.last,
      best: gone.has(`${t.id}:best`) ? null : t.best,
    }));
    assert.deepEqual(planRetention(after, DEFAULT_RETENTION, 'minimize').drop, []);
  });

  it('reads the policy from a stored sweep spec, defaults for what is missing', () => {
    assert.deepEqual(retentionOf({}), DEFAULT_RETENTION);
    assert.deepEqual(retentionOf(null), DEFAULT_RETENTION);
    assert.deepEqual(retentionOf({ checkpoints: { keepBestTrials: 0, deletePruned: false } }), {
      keepBestTrials: 0,
      keepLastPerTrial: false,
      deletePruned: false,
    });
  });
});
