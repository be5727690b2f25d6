/**
 * Small valid records for tests of anything that reads or writes the experiment store (the
 * dashboard API, the CLI, browser tests). Every field can be overridden.
 */
import type { EpochEntry, SplitMetrics, SweepRecord, TrialRecord } from '../types.js';

export function fixtureSweep(overrides: Partial<SweepRecord> = {}): SweepRecord {
  const now = Date.now();
  return {
    id: 'sweep-1',
    name: 'fixture sweep',
    state: 'running',
    createdAt: now,
    updatedAt: now,
    metric: { name: 'valid.mae', goal: 'minimize' },
    spec: { method: 'random', parameters: { lr: { min: 1e-5, max: 1e-3 } } },
    runCap: 10,
    seeds: [1],
    workersPerTrial: 1,
    best: null,
    ...overrides,
  };
}

export function fixtureTrial(overrides: Partial<TrialRecord> = {}): TrialRecord {
  return {
    id: 'trial-1',
    sweepId: 'sweep-1',
    number: 0,
    configKey: 'cfg-1',
    params: { lr: 1e-4 },
    seed: 1,
    spec: {},
    state: 'queued',
    createdAt: Date.now(),
    startedAt: null,
    endedAt: null,
    epochs: 0,
    lastValue: null,
    bestValue: null,
    bestEpoch: null,
    workersPerTrial: 1,
    placement: [],
    attempts: 0,
    error: null,
    checkpointEpoch: null,
    ...overrides,
  };
}

function split(mae: number): SplitMetrics {
  return {
    loss: mae * 1.2,
    mae,
    corr: 0.5,
    acc2: 0.7,
    f1: 0.7,
    acc2NonNeg: 0.7,
    f1NonNeg: 0.7,
    acc5: 0.4,
    acc7: 0.35,
  };
}

/** An epoch whose valid MAE is `validMae` (test MAE slightly worse). */
export function fixtureEpoch(epoch: number, validMae: number, at = Date.now()): EpochEntry {
  return {
    epoch,
    trainLoss: { stage0: null, stage1: validMae * 0.9 },
    valid: split(validMae),
    test: split(validMae + 0.05),
    lr: { main: 1e-4 },
    seconds: 1.5,
    at,
  };
}
