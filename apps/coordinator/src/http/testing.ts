/**
 * Test helpers for the HTTP API (not exported from index.ts): a SweepControl that only records
 * state changes in the experiment store, with the 404/409/400 rules of the real controller.
 */
import { randomBytes } from 'node:crypto';
import {
  TERMINAL_TRIAL_STATES,
  type ExperimentStoreApi,
  type SweepId,
  type SweepRecord,
  type TrialId,
  type TrialRecord,
} from '@mmim/experiments';
import { fixtureSweep, fixtureTrial } from '@mmim/experiments/testing';
import {
  nextSweepState,
  sweepDeletionRefusal,
  type LoneTrialRequest,
  type SweepAction,
  type SweepControl,
  type SweepDeletion,
} from './control.js';
import { SweepActionError } from './errors.js';

export class StoreSweepControl implements SweepControl {
  constructor(private readonly store: ExperimentStoreApi) {}

  pause(id: SweepId): Promise<SweepRecord> {
    return this.apply(id, 'pause');
  }
  resume(id: SweepId): Promise<SweepRecord> {
    return this.apply(id, 'resume');
  }
  cancel(id: SweepId): Promise<SweepRecord> {
    return this.apply(id, 'cancel');
  }

  /** Takes the sweep's name from a `name:` line; without one the file is invalid. */
  async createSweep(yaml: string): Promise<SweepRecord> {
    const name = /^name:\s*(\S+)\s*$/m.exec(yaml)?.[1];
    if (name === undefined)
      throw new SweepActionError('invalid', '', 'sweep file: name: is required');
    const sweep = fixtureSweep({ id: `${name}-${randomBytes(3).toString('hex')}`, name });
    await this.store.putSweep(sweep);
    return sweep;
  }

  async createTrial(input: LoneTrialRequest): Promise<TrialRecord> {
    const trial = fixtureTrial({
      id: `${input.name ?? 'trial'}-${randomBytes(3).toString('hex')}`,
      sweepId: null,
      seed: input.seed,
      workersPerTrial: input.workers,
      spec: { data: input.data, trainer: input.trainer },
    });
    await this.store.putTrial(trial);
    return trial;
  }

  /** Marks a queued or running lone trial cancelled (404 unknown, 409 ended or a sweep's). */
  async cancelTrial(id: TrialId): Promise<TrialRecord> {
    const trial = await this.store.getTrial(id);
    if (trial === null)
      throw new SweepActionError('not-found', '', `unknown trial ${JSON.stringify(id)}`);
    if (trial.sweepId !== null || TERMINAL_TRIAL_STATES.includes(trial.state)) {
      throw new SweepActionError('conflict', '', `trial ${id} cannot be cancelled`);
    }
    return this.store.updateTrial(id, { state: 'cancelled', endedAt: Date.now() });
  }

  /** The real rule (sweepDeletionRefusal); no checkpoints here, only the records. */
  async deleteSweep(id: SweepId): Promise<SweepDeletion> {
    const sweep = await this.store.getSweep(id);
    if (sweep === null) {
      throw new SweepActionError('not-found', id, `unknown sweep ${JSON.stringify(id)}`);
    }
    const refusal = sweepDeletionRefusal(sweep, (await this.store.listTrials(id)).trials);
    if (refusal !== null) throw new SweepActionError('conflict', id, refusal);
    const trials = await this.store.deleteSweep(id);
    return { sweepId: id, trials: trials.length, checkpoints: 0, freedBytes: 0 };
  }

  private async apply(id: SweepId, action: SweepAction): Promise<SweepRecord> {
    const sweep = await this.store.getSweep(id);
    if (sweep === null) {
      throw new SweepActionError('not-found', id, `unknown sweep ${JSON.stringify(id)}`);
    }
    const next = nextSweepState(sweep.state, action);
    if (next === null) {
      throw new SweepActionError(
        'conflict',
        id,
        `cannot ${action} sweep ${JSON.stringify(id)}: it is ${sweep.state}`,
      );
    }
    return this.store.updateSweep(id, { state: next });
  }
}
