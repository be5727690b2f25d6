/**
 * What the API's mutating endpoints call: the coordinator's sweep controller and trial manager
 * implement it (they also stop dispatching, drain or cancel running trials). The sweep actions
 * return the sweep record after the change; every method throws SweepActionError ('not-found'
 * -> 404, 'conflict' -> 409, 'invalid' -> 400) with a message naming the id and the problem.
 */
import {
  TERMINAL_TRIAL_STATES,
  type SweepId,
  type SweepRecord,
  type TrialId,
  type TrialRecord,
} from '@mmim/experiments';

/** The body of POST /api/trials: one trial outside any sweep (`mmim train --workers K`). */
export interface LoneTrialRequest {
  /** The trial spec's data and trainer parts (see @mmim/trainer's TrialSpec). */
  data: Record<string, unknown>;
  trainer: Record<string, unknown>;
  seed: number;
  workers: number;
  name?: string;
  /** BERT config overrides (`--bert-config`), see the trial spec. */
  bert?: Record<string, unknown>;
  /** Where training starts: `bertDir`, `init`, `resume` paths, see the trial spec. */
  start?: Record<string, unknown>;
}

export interface SweepControl {
  pause(id: SweepId): Promise<SweepRecord>;
  resume(id: SweepId): Promise<SweepRecord>;
  cancel(id: SweepId): Promise<SweepRecord>;
  /** Parses the sweep file's text and starts the sweep (bad YAML or keys: 'invalid'). */
  createSweep(yaml: string): Promise<SweepRecord>;
  /** Queues one trial outside any sweep (too many workers for the cluster: 'invalid'). */
  createTrial(input: LoneTrialRequest): Promise<TrialRecord>;
  /**
   * Cancels a lone trial that has not ended (unknown: 'not-found'; ended, or one of a sweep's
   * trials: 'conflict'); returns its record after the change.
   */
  cancelTrial(id: TrialId): Promise<TrialRecord>;
  /**
   * Deletes an ended sweep: its trials' checkpoints from the artifact store, then its record
   * and its trials' (unknown: 'not-found'; running, paused, or a trial not ended yet:
   * 'conflict', see sweepDeletionRefusal).
   */
  deleteSweep(id: SweepId): Promise<SweepDeletion>;
}

/** What deleting a sweep removed. */
export interface SweepDeletion {
  sweepId: SweepId;
  trials: number;
  /** Checkpoints (last/best) and unnamed leftovers of crashed writes, and their bytes. */
  checkpoints: number;
  freedBytes: number;
}

/**
 * Why a sweep may not be deleted now, or null. Only a sweep that has ended (finished or
 * cancelled) and whose trials have all ended: a cancelled sweep's running trials are still
 * stopping on their workers, and deleting their records under them would lose their ends.
 */
export function sweepDeletionRefusal(sweep: SweepRecord, trials: TrialRecord[]): string | null {
  if (sweep.state === 'running' || sweep.state === 'paused') {
    return `sweep ${sweep.id} is ${sweep.state}: cancel it first (mmim sweep cancel ${sweep.id})`;
  }
  const live = trials.filter((t) => !TERMINAL_TRIAL_STATES.includes(t.state));
  const first = live[0];
  if (first !== undefined) {
    return (
      `sweep ${sweep.id} has ${live.length} trial(s) that have not ended yet ` +
      `(${first.id} is ${first.state}): try again once they have`
    );
  }
  return null;
}

export type SweepAction = 'pause' | 'resume' | 'cancel';

export const SWEEP_ACTIONS: readonly SweepAction[] = ['pause', 'resume', 'cancel'];

/** The state an action leads to from `state`, or null when the action is not valid there. */
export function nextSweepState(
  state: SweepRecord['state'],
  action: SweepAction,
): SweepRecord['state'] | null {
  switch (action) {
    case 'pause':
      return state === 'running' ? 'paused' : null;
    case 'resume':
      return state === 'paused' ? 'running' : null;
    case 'cancel':
      return state === 'running' || state === 'paused' ? 'cancelled' : null;
  }
}
