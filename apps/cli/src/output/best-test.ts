/**
 * What `mmim up --sweep ... --exit-when-done` prints last: the best config's test Corr and MAE at
 * each seed's selected epoch, beside the MAE of the constant predictor (the mean of the train
 * labels, docs/synthetic-data.md), so that a newcomer sees whether the sweep found a model that
 * learned or only a lower validation loss.
 */
import type { SweepRecord, TrialRecord } from '@mmim/experiments';
import type { ApiClient } from '../cluster/api-client.js';

export interface BestTestRow {
  seed: number;
  trialId: string;
  /** The epoch the trial selected (lowest valid loss). */
  epoch: number;
  corr: number;
  mae: number;
  /** Test MAE of predicting the train labels' mean; null when the data is not synthetic. */
  constantMae: number | null;
}

/**
 * The constant predictor's test MAE for a trial's synthetic data, regenerated from the trial's
 * spec exactly as its workers made it (the same seed and sizes); null for a dataset file, which
 * this command does not load again.
 */
export async function constantMae(trial: TrialRecord): Promise<number | null> {
  const data = trial.spec['data'] as { kind?: unknown } | undefined;
  if (data?.kind !== 'synthetic') return null;
  // Loaded only here: the trainer pulls in TF.js, which the rest of `mmim up` does not need.
  const { parseTrialSpec, prepareTrial } = await import('@mmim/trainer');
  const spec = parseTrialSpec(
    JSON.stringify({ ...trial.spec, trialId: trial.id, attempt: 1, seed: trial.seed }),
  );
  const { splits } = (await prepareTrial(spec)).data;
  const train = splits.train.labels;
  const mean = train.reduce((a, b) => a + b, 0) / train.length;
  const test = splits.test.labels;
  return test.reduce((a, y) => a + Math.abs(y - mean), 0) / test.length;
}

/** The best config's sampled parameters and one row per seed that selected an epoch. */
export async function bestTestRows(
  api: ApiClient,
  sweep: SweepRecord,
): Promise<{ params: Record<string, unknown>; rows: BestTestRow[] }> {
  const rows: BestTestRow[] = [];
  if (sweep.best === null) return { params: {}, rows };
  const { trials } = await api.trialsOf(sweep.id);
  const mine = trials.filter((x) => x.configKey === sweep.best?.configKey);
  for (const t of mine) {
    if (t.bestEpoch === null) continue;
    const { epochs } = await api.trial(t.id);
    const selected = epochs.find((e) => e.epoch === t.bestEpoch);
    if (selected === undefined) continue;
    rows.push({
      seed: t.seed,
      trialId: t.id,
      epoch: t.bestEpoch,
      corr: selected.test.corr,
      mae: selected.test.mae,
      constantMae: await constantMae(t),
    });
  }
  return { params: mine[0]?.params ?? {}, rows };
}

/** The lines `mmim up` prints under the best config; a failure to gather them is one line too. */
export async function bestTestReport(api: ApiClient, sweep: SweepRecord): Promise<string[]> {
  try {
    const { params, rows } = await bestTestRows(api, sweep);
    return bestTestLines(params, rows);
  } catch (err) {
    return [`(the best config's test figures are unavailable: ${(err as Error).message})`];
  }
}

const num = (x: number | null, digits: number, width: number): string =>
  (x === null || !Number.isFinite(x) ? '-' : x.toFixed(digits)).padStart(width);

/** The table under the "best config" line; empty when no seed selected an epoch. */
export function bestTestLines(params: Record<string, unknown>, rows: BestTestRow[]): string[] {
  if (rows.length === 0) return [];
  const config = Object.entries(params)
    .map(([k, v]) => `${k} ${typeof v === 'number' ? Number(v.toPrecision(3)) : JSON.stringify(v)}`)
    .join(', ');
  const mean = (f: (r: BestTestRow) => number | null): number | null => {
    const xs = rows.map(f);
    return xs.some((x) => x === null)
      ? null
      : (xs as number[]).reduce((a, b) => a + b, 0) / xs.length;
  };
  const line = (label: string, corr: number | null, mae: number | null, c: number | null) =>
    `  ${label.padEnd(22)}${num(corr, 3, 7)}${num(mae, 3, 8)}${num(c, 3, 15)}`;
  const out = [
    `best config: ${config || '(no sampled parameters)'}`,
    `  ${'test, selected epoch'.padEnd(22)}${'Corr'.padStart(7)}${'MAE'.padStart(8)}${'constant MAE'.padStart(15)}`,
    ...rows.map((r) => line(`seed ${r.seed} (epoch ${r.epoch})`, r.corr, r.mae, r.constantMae)),
  ];
  const corr = mean((r) => r.corr);
  const mae = mean((r) => r.mae);
  const constant = mean((r) => r.constantMae);
  if (rows.length > 1) out.push(line('mean', corr, mae, constant));
  if (mae !== null && constant !== null && constant > 0) {
    out.push(
      `  (constant: predicting the train labels' mean.) Test MAE ${(mae / constant).toFixed(2)}x ` +
        `the constant's, Corr ${num(corr, 2, 0)}`,
    );
  }
  return out;
}
