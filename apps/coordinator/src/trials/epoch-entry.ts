/**
 * A worker's epoch report (the trainer's EpochRecord as JSON) as the experiment record keeps it:
 * the record's metric names are the reference's (acc2_non0, f1_has0, ...); the short names that
 * sweeps and the dashboard use are added from the metric table (@mmim/experiments METRICS).
 */
import { withMetricAliases, type EpochEntry } from '@mmim/experiments';

/** Throws when the JSON is not an epoch record with valid and test metrics. */
export function toEpochEntry(json: string, epoch: number, at: number): EpochEntry {
  const r = JSON.parse(json) as {
    valid?: Record<string, number>;
    test?: Record<string, number>;
    trainLoss?: EpochEntry['trainLoss'];
    lr?: Record<string, number>;
    seconds?: number;
  };
  if (typeof r !== 'object' || r === null || r.valid === undefined || r.test === undefined) {
    throw new Error('record_json lacks valid/test metrics');
  }
  return {
    epoch,
    trainLoss: r.trainLoss ?? { stage0: null, stage1: Number.NaN },
    valid: withMetricAliases(r.valid),
    test: withMetricAliases(r.test),
    lr: r.lr ?? {},
    seconds: r.seconds ?? 0,
    at,
  };
}
