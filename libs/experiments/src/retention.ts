/**
 * Which checkpoints a sweep keeps (issue 17: Determined's save_experiment_best /
 * save_trial_best / save_trial_latest, as one per-sweep policy). Pure: the coordinator's GC
 * reads the record, asks planRetention, and deletes what it says; the same plan, unexecuted,
 * is `mmim sweep gc ID --dry-run`. Running it twice deletes nothing the second time.
 *
 * The rules, in order, for each trial's `last` and `best`:
 *   queued or running           keep both (a retry resumes from `last`)
 *   pruned, failed, cancelled   drop both once ended, with deletePruned (else as completed)
 *   completed, `last`           drop (it never resumes), unless keepLastPerTrial
 *   completed, `best`           keep for the sweep record's best config (pinned), and while its
 *                               config is among the keepBestTrials best configs
 *                               (mean objective over the config's completed seeds), or while
 *                               other seeds of its config still run (the config may yet rank);
 *                               else drop
 */
import type { CheckpointInfo, CheckpointKind } from './checkpoints.js';
import type { ConfigKey, Goal, TrialId, TrialState } from './types.js';

export interface RetentionPolicy {
  /** How many of the best configs keep every seed's `best`; default 3. */
  keepBestTrials: number;
  /** Keep each ended trial's `last` too; default false (only running trials need it). */
  keepLastPerTrial: boolean;
  /** Drop pruned, failed and cancelled trials' checkpoints once they end; default true. */
  deletePruned: boolean;
}

export const DEFAULT_RETENTION: RetentionPolicy = {
  keepBestTrials: 3,
  keepLastPerTrial: false,
  deletePruned: true,
};

/** The policy a stored sweep carries (its parsed spec's `checkpoints`), defaults filled in. */
export function retentionOf(parsedSpec: unknown): RetentionPolicy {
  const c = (parsedSpec as { checkpoints?: Partial<RetentionPolicy> } | null)?.checkpoints ?? {};
  return {
    keepBestTrials:
      typeof c.keepBestTrials === 'number' ? c.keepBestTrials : DEFAULT_RETENTION.keepBestTrials,
    keepLastPerTrial:
      typeof c.keepLastPerTrial === 'boolean'
        ? c.keepLastPerTrial
        : DEFAULT_RETENTION.keepLastPerTrial,
    deletePruned:
      typeof c.deletePruned === 'boolean' ? c.deletePruned : DEFAULT_RETENTION.deletePruned,
  };
}

export interface RetentionTrial {
  id: TrialId;
  state: TrialState;
  configKey: ConfigKey;
  /** The trial's best objective; null before its first epoch. */
  bestValue: number | null;
  last: CheckpointInfo | null;
  best: CheckpointInfo | null;
}

export interface RetentionDecision {
  trialId: TrialId;
  kind: CheckpointKind;
  bytes: number;
  /** Why, in words, for logs and `--dry-run`. */
  reason: string;
}

export interface RetentionPlan {
  drop: RetentionDecision[];
  keep: RetentionDecision[];
  /** Bytes the drops free. */
  dropBytes: number;
}

const ENDED_EARLY: readonly TrialState[] = ['pruned', 'failed', 'cancelled'];

/** The configs whose every seed's `best` is kept: the N best by mean over completed seeds. */
function bestConfigs(trials: RetentionTrial[], goal: Goal, n: number): Set<ConfigKey> {
  const sums = new Map<ConfigKey, { sum: number; count: number }>();
  for (const t of trials) {
    if (t.state !== 'completed' || t.bestValue === null || !Number.isFinite(t.bestValue)) continue;
    const s = sums.get(t.configKey) ?? { sum: 0, count: 0 };
    s.sum += t.bestValue;
    s.count += 1;
    sums.set(t.configKey, s);
  }
  const sign = goal === 'minimize' ? 1 : -1;
  const ranked = [...sums.entries()]
    .map(([key, s]) => ({ key, mean: s.sum / s.count }))
    .sort((a, b) => sign * (a.mean - b.mean) || (a.key < b.key ? -1 : 1));
  return new Set(ranked.slice(0, Math.max(0, n)).map((r) => r.key));
}

/**
 * `pinned`: trials whose `best` stays whatever the ranking says (the sweep record's best config,
 * which `mmim sweep best --download` fetches), unless they were pruned/failed under deletePruned.
 */
export function planRetention(
  trials: RetentionTrial[],
  policy: RetentionPolicy,
  goal: Goal,
  pinned: readonly TrialId[] = [],
): RetentionPlan {
  const best = bestConfigs(trials, goal, policy.keepBestTrials);
  const stillRunning = new Set(
    trials.filter((t) => t.state === 'queued' || t.state === 'running').map((t) => t.configKey),
  );
  const plan: RetentionPlan = { drop: [], keep: [], dropBytes: 0 };
  const decide = (t: RetentionTrial, kind: CheckpointKind, keep: boolean, reason: string): void => {
    const info = t[kind];
    if (info === null) return;
    const d = { trialId: t.id, kind, bytes: info.bytes, reason };
    if (keep) plan.keep.push(d);
    else {
      plan.drop.push(d);
      plan.dropBytes += info.bytes;
    }
  };
  for (const t of trials) {
    if (t.state === 'queued' || t.state === 'running') {
      decide(t, 'last', true, `trial is ${t.state}: a retry resumes from it`);
      decide(t, 'best', true, `trial is ${t.state}`);
      continue;
    }
    if (ENDED_EARLY.includes(t.state) && policy.deletePruned) {
      decide(t, 'last', false, `trial ${t.state} (delete_pruned)`);
      decide(t, 'best', false, `trial ${t.state} (delete_pruned)`);
      continue;
    }
    decide(
      t,
      'last',
      policy.keepLastPerTrial,
      policy.keepLastPerTrial
        ? 'keep_last_per_trial'
        : `trial ${t.state}: it never resumes (keep_last_per_trial: false)`,
    );
    if (pinned.includes(t.id)) {
      decide(t, 'best', true, "the sweep's best config (mmim sweep best)");
    } else if (best.has(t.configKey)) {
      decide(t, 'best', true, `config among the ${policy.keepBestTrials} best (keep_best_trials)`);
    } else if (stillRunning.has(t.configKey)) {
      decide(t, 'best', true, 'other seeds of its config still run');
    } else {
      decide(
        t,
        'best',
        false,
        `config not among the ${policy.keepBestTrials} best (keep_best_trials)`,
      );
    }
  }
  return plan;
}
