/**
 * What the API's mutating endpoints call: the coordinator's sweep controller and trial manager
 * implement it (they also stop dispatching, drain or cancel running trials). The sweep actions
 * return the sweep record after the change; every method throws SweepActionError ('not-found'
 * -> 404, 'conflict' -> 409, 'invalid' -> 400) with a message naming the id and the problem.
 */
import type { SweepId, SweepRecord, TrialId, TrialRecord } from '@mmim/experiments';

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
