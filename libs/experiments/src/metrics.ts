/**
 * The one table of evaluation metrics. Everything that names, labels, orders or formats an
 * epoch metric reads it: the experiment record (the short keys of SplitMetrics, added to the
 * trainer's records by `withMetricAliases`), the sweep file's `metric.name` (libs/sweep's
 * METRIC_NAMES), the CLI's metric tables and the dashboard's epoch table. A new metric is one
 * row here (and the trainer computing it under `recordKey`).
 *
 * The dashboard reads it from the API (`GET /api/metrics`), so its bundle needs no lib code.
 */

export interface MetricInfo {
  /** The name in the experiment record, sweep files and the dashboard: `valid.<key>`. */
  readonly key: string;
  /** The name in the trainer's evaluation record (the reference's), when it differs. */
  readonly recordKey: string;
  /** What people read: the paper's column names. */
  readonly label: string;
  /** Which way is better (a sweep's default goal for it). */
  readonly goal: 'minimize' | 'maximize';
  /** `decimal`: 0.7123 as 0.7123; `percent`: 0.8123 as 81.23. */
  readonly format: 'decimal' | 'percent';
  /** In the paper's Table 1 (the CLI's metric table), in this order. */
  readonly inPaperTable: boolean;
  /** The splits whose column the dashboard's per-epoch table shows, in this order. */
  readonly dashboard: readonly ('valid' | 'test')[];
}

/**
 * acc2/f1 are the non0 variants (the paper's Acc-2 and F1: negative vs positive, zero labels
 * left out), acc2NonNeg/f1NonNeg the has0 variants (negative vs non-negative, every sample).
 */
export const METRICS = [
  {
    key: 'mae',
    recordKey: 'mae',
    label: 'MAE',
    goal: 'minimize',
    format: 'decimal',
    inPaperTable: true,
    dashboard: ['valid', 'test'],
  },
  {
    key: 'corr',
    recordKey: 'corr',
    label: 'Corr',
    goal: 'maximize',
    format: 'decimal',
    inPaperTable: true,
    dashboard: ['valid', 'test'],
  },
  {
    key: 'acc7',
    recordKey: 'acc7',
    label: 'Acc-7',
    goal: 'maximize',
    format: 'percent',
    inPaperTable: true,
    dashboard: ['test'],
  },
  {
    key: 'acc5',
    recordKey: 'acc5',
    label: 'Acc-5',
    goal: 'maximize',
    format: 'percent',
    inPaperTable: true,
    dashboard: [],
  },
  {
    key: 'acc2NonNeg',
    recordKey: 'acc2_has0',
    label: 'Acc-2 (has0)',
    goal: 'maximize',
    format: 'percent',
    inPaperTable: true,
    dashboard: [],
  },
  {
    key: 'acc2',
    recordKey: 'acc2_non0',
    label: 'Acc-2 (non0)',
    goal: 'maximize',
    format: 'percent',
    inPaperTable: true,
    dashboard: ['valid', 'test'],
  },
  {
    key: 'f1NonNeg',
    recordKey: 'f1_has0',
    label: 'F1 (has0)',
    goal: 'maximize',
    format: 'percent',
    inPaperTable: true,
    dashboard: [],
  },
  {
    key: 'f1',
    recordKey: 'f1_non0',
    label: 'F1 (non0)',
    goal: 'maximize',
    format: 'percent',
    inPaperTable: true,
    dashboard: ['valid', 'test'],
  },
  {
    key: 'loss',
    recordKey: 'loss',
    label: 'Loss',
    goal: 'minimize',
    format: 'decimal',
    inPaperTable: false,
    dashboard: [],
  },
] as const satisfies readonly MetricInfo[];

export type MetricKey = (typeof METRICS)[number]['key'];

/** Every metric key, in table order (what a sweep's `metric.name` may name after the split). */
export const METRIC_KEYS: readonly MetricKey[] = METRICS.map((m) => m.key);

/** The row of `key`, or undefined for a name the table does not know. */
export function metricInfo(key: string): MetricInfo | undefined {
  return METRICS.find((m) => m.key === key);
}

/** `value` as people read it: 4 decimals, or a percentage with 2 (NaN and null: `missing`). */
export function formatMetric(
  info: Pick<MetricInfo, 'format'>,
  value: number | null | undefined,
  missing = '-',
): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return missing;
  return info.format === 'percent' ? (100 * value).toFixed(2) : value.toFixed(4);
}

/**
 * One split of the trainer's evaluation record with every table key present: the record's own
 * names stay, each table key is taken from the record under its key or its `recordKey` (NaN
 * when the trainer did not compute it).
 */
export function withMetricAliases(
  record: Record<string, number>,
): Record<MetricKey, number> & Record<string, number> {
  const out: Record<string, number> = { ...record };
  for (const m of METRICS) {
    const v = record[m.key] ?? record[m.recordKey];
    out[m.key] = typeof v === 'number' ? v : Number.NaN;
  }
  return out as Record<MetricKey, number> & Record<string, number>;
}
