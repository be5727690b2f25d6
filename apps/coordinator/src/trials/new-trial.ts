import type { TrialRecord } from '@mmim/experiments';

/** What differs between new trials; everything else starts the same (queued, nothing run). */
export type NewTrial = Pick<
  TrialRecord,
  'id' | 'sweepId' | 'number' | 'configKey' | 'params' | 'seed' | 'workersPerTrial'
> & {
  /** The trial spec's data and trainer parts; id, attempt and seed are filled in. */
  data: Record<string, unknown>;
  trainer: Record<string, unknown>;
  /** Optional spec parts of lone trials (`mmim train --workers K`): BERT overrides, start files. */
  bert?: Record<string, unknown>;
  start?: Record<string, unknown>;
};

export function newTrialRecord(t: NewTrial): TrialRecord {
  const { data, trainer, bert, start, ...fields } = t;
  return {
    ...fields,
    spec: {
      trialId: t.id,
      attempt: 1,
      seed: t.seed,
      data,
      trainer,
      ...(bert === undefined ? {} : { bert }),
      ...(start === undefined ? {} : { start }),
    },
    state: 'queued',
    createdAt: Date.now(),
    startedAt: null,
    endedAt: null,
    epochs: 0,
    lastValue: null,
    bestValue: null,
    bestEpoch: null,
    placement: [],
    attempts: 0,
    error: null,
    checkpointEpoch: null,
  };
}
