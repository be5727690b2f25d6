/**
 * The metric table researchers compare with the paper's Table 1, for one run or mean ± std.
 * Its rows, labels and scales are the metric table's (METRICS of @mmim/experiments).
 */
import { METRICS } from '@mmim/experiments';
import type { SentimentMetrics } from '@mmim/trainer';

const ROWS: [keyof SentimentMetrics, string, number][] = METRICS.filter((m) => m.inPaperTable).map(
  (m) => [m.recordKey as keyof SentimentMetrics, m.label, m.format === 'percent' ? 100 : 1],
);

export function metricsTable(m: SentimentMetrics): string {
  return ROWS.map(
    ([k, label, scale]) =>
      `${label.padEnd(14)} ${(Number(m[k]) * scale).toFixed(scale === 1 ? 4 : 2)}`,
  ).join('\n');
}

/** Mean and population std (numpy's default) of each metric over runs. */
export function meanStd(runs: SentimentMetrics[]): Record<string, { mean: number; std: number }> {
  const out: Record<string, { mean: number; std: number }> = {};
  for (const [k] of ROWS) {
    const xs = runs.map((r) => Number(r[k]));
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    out[k] = { mean, std };
  }
  return out;
}

export function meanStdTable(runs: SentimentMetrics[]): string {
  const ms = meanStd(runs);
  return ROWS.map(([k, label, scale]) => {
    const v = ms[k] ?? { mean: NaN, std: NaN };
    const d = scale === 1 ? 4 : 2;
    return `${label.padEnd(14)} ${(v.mean * scale).toFixed(d)} ± ${(v.std * scale).toFixed(d)}`;
  }).join('\n');
}
