/**
 * Every Redis key of the experiment store, built in one place (see the key table in
 * store-api.ts). One trial's keys share the `{trial:ID}` hash tag and one sweep's the
 * `{sweep:ID}` tag, so each group lives on one Redis Cluster slot and a Lua script may touch
 * several keys of one group.
 */
import type { SweepId, TrialId } from './types.js';

const BAD_ID = /[{}\s]/;

/** True when `id` can name a sweep or trial: non-empty, at most 200 chars, no braces or spaces. */
export function isValidRecordId(id: string): boolean {
  return id.length > 0 && id.length <= 200 && !BAD_ID.test(id);
}

export function checkRecordId(kind: 'sweep' | 'trial', id: string): void {
  if (!isValidRecordId(id)) {
    throw new Error(
      `invalid ${kind} id ${JSON.stringify(id)}: must be 1-200 characters without braces or spaces`,
    );
  }
}

export class StoreKeys {
  constructor(readonly prefix: string) {}

  sweeps(): string {
    return `${this.prefix}sweeps`;
  }
  trials(): string {
    return `${this.prefix}trials`;
  }
  workers(): string {
    return `${this.prefix}workers`;
  }
  changes(): string {
    return `${this.prefix}changes`;
  }

  sweepMeta(id: SweepId): string {
    return `${this.sweepTag(id)}:meta`;
  }
  sweepTrials(id: SweepId): string {
    return `${this.sweepTag(id)}:trials`;
  }
  sweepEvents(id: SweepId): string {
    return `${this.sweepTag(id)}:events`;
  }

  trialMeta(id: TrialId): string {
    return `${this.trialTag(id)}:meta`;
  }
  trialEpochs(id: TrialId): string {
    return `${this.trialTag(id)}:epochs`;
  }
  trialEvents(id: TrialId): string {
    return `${this.trialTag(id)}:events`;
  }
  trialCurves(id: TrialId): string {
    return `${this.trialTag(id)}:curves`;
  }
  trialCurve(id: TrialId, name: string): string {
    return `${this.trialTag(id)}:curve:${name}`;
  }

  /** `PREFIX{sweep:ID}`: the hash tag every key of one sweep starts with. */
  sweepTag(id: SweepId): string {
    checkRecordId('sweep', id);
    return `${this.prefix}{sweep:${id}}`;
  }
  /** `PREFIX{trial:ID}`: the hash tag every key of one trial starts with. */
  trialTag(id: TrialId): string {
    checkRecordId('trial', id);
    return `${this.prefix}{trial:${id}}`;
  }
}
