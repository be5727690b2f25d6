/**
 * How much of the label each modality of a synthetic dataset gives away to simple estimators:
 * the baselines docs/synthetic-data.md quotes. Each estimator is a ridge regression on simple
 * features (word frequencies, the generator's lexicon, per-channel statistics), fitted on train
 * and scored on test with the reference's metrics (MMIM.md "Metrics"): MAE, Pearson r, Acc-2
 * (has0 and non0), Acc-7.
 */
import { sentimentMetrics } from '@mmim/model';
import { INTENSIFIERS, INTENSIFIER_FACTOR, NEGATION_FACTOR, NEGATORS, lexicon } from './lexicon.js';

export interface RegressionMetrics {
  mae: number;
  corr: number;
  /** p >= 0 vs y >= 0 over all samples. */
  acc2Has0: number;
  /** p > 0 vs y > 0 over samples with y != 0. */
  acc2Non0: number;
  acc7: number;
}

/** The reference's metrics (MMIM.md "Metrics"), in this table's shape. */
export function regressionMetrics(
  pred: ArrayLike<number>,
  label: ArrayLike<number>,
): RegressionMetrics {
  if (pred.length === 0 || pred.length !== label.length) {
    throw new Error('metrics need equally long, non-empty arrays');
  }
  const m = sentimentMetrics(pred, label);
  return {
    mae: m.mae,
    // A constant predictor has no correlation; the table shows 0 where numpy gives NaN.
    corr: Number.isNaN(m.corr) ? 0 : m.corr,
    acc2Has0: m.acc2_has0,
    acc2Non0: m.n_non0 > 0 ? m.acc2_non0 : 0,
    acc7: m.acc7,
  };
}

/**
 * Lexicon features of an utterance: mean effective valence of its sentiment words (negators
 * flip and damp, intensifiers amplify the next word) and whether it has any.
 */
export function textFeatures(text: string): number[] {
  const { valence } = lexicon();
  const words = text.split(/\s+/).filter((w) => w);
  let sum = 0;
  let count = 0;
  words.forEach((w, i) => {
    const v = valence.get(w);
    if (v === undefined) return;
    const prev = words[i - 1] ?? '';
    const factor = (NEGATORS as readonly string[]).includes(prev)
      ? NEGATION_FACTOR
      : (INTENSIFIERS as readonly string[]).includes(prev)
        ? INTENSIFIER_FACTOR
        : 1;
    sum += factor * v;
    count++;
  });
  return [count > 0 ? sum / count : 0, count > 0 ? 1 : 0];
}

/** Column of each distinct word of `texts` (split on white space), in order of first use. */
export function wordIndex(texts: readonly string[]): ReadonlyMap<string, number> {
  const index = new Map<string, number>();
  for (const t of texts)
    for (const w of t.split(/\s+/)) if (w && !index.has(w)) index.set(w, index.size);
  return index;
}

/** How often each indexed word occurs in `text`, divided by its word count (words not indexed are skipped). */
export function bagOfWords(text: string, index: ReadonlyMap<string, number>): number[] {
  const row = new Array<number>(index.size).fill(0);
  const words = text.split(/\s+/).filter((w) => w);
  for (const w of words) {
    const j = index.get(w);
    if (j !== undefined) row[j] = (row[j] ?? 0) + 1 / words.length;
  }
  return row;
}

/** Mean and standard deviation of each channel over a sequence's valid steps. */
export function sequenceFeatures(row: Float32Array, length: number, dim: number): number[] {
  const mean = new Float64Array(dim);
  const sq = new Float64Array(dim);
  for (let t = 0; t < length; t++) {
    for (let c = 0; c < dim; c++) {
      const x = row[t * dim + c] ?? 0;
      mean[c] = (mean[c] ?? 0) + x;
      sq[c] = (sq[c] ?? 0) + x * x;
    }
  }
  const out: number[] = [];
  for (let c = 0; c < dim; c++) {
    const m = (mean[c] ?? 0) / length;
    out.push(m, Math.sqrt(Math.max(0, (sq[c] ?? 0) / length - m * m)));
  }
  return out;
}

/** Ridge regression on standardised features (lambda relative to the sample count). */
export class RidgeRegression {
  private constructor(
    private readonly mean: Float64Array,
    private readonly scale: Float64Array,
    private readonly weights: Float64Array,
    private readonly bias: number,
  ) {}

  static fit(x: readonly number[][], y: ArrayLike<number>, lambda = 1e-2): RidgeRegression {
    const n = x.length;
    const d = x[0]?.length ?? 0;
    const mean = new Float64Array(d);
    const scale = new Float64Array(d);
    for (const row of x) row.forEach((v, j) => (mean[j] = (mean[j] ?? 0) + v / n));
    for (const row of x)
      row.forEach((v, j) => (scale[j] = (scale[j] ?? 0) + (v - (mean[j] ?? 0)) ** 2 / n));
    for (let j = 0; j < d; j++) scale[j] = Math.sqrt(scale[j] ?? 0) || 1;
    let yMean = 0;
    for (let i = 0; i < n; i++) yMean += (y[i] ?? 0) / n;
    // Normal equations (Z^T Z + lambda n I) w = Z^T (y - mean y), solved by Gaussian elimination.
    const a = Array.from({ length: d }, () => new Float64Array(d + 1));
    for (let i = 0; i < n; i++) {
      const row = x[i] ?? [];
      const z = row.map((v, j) => (v - (mean[j] ?? 0)) / (scale[j] ?? 1));
      const r = (y[i] ?? 0) - yMean;
      for (let j = 0; j < d; j++) {
        const aj = a[j] as Float64Array;
        const zj = z[j] ?? 0;
        for (let k = 0; k < d; k++) aj[k] = (aj[k] ?? 0) + zj * (z[k] ?? 0);
        aj[d] = (aj[d] ?? 0) + zj * r;
      }
    }
    for (let j = 0; j < d; j++)
      (a[j] as Float64Array)[j] = ((a[j] as Float64Array)[j] ?? 0) + lambda * n;
    return new RidgeRegression(mean, scale, solve(a, d), yMean);
  }

  predict(row: readonly number[]): number {
    let s = this.bias;
    row.forEach(
      (v, j) => (s += ((v - (this.mean[j] ?? 0)) / (this.scale[j] ?? 1)) * (this.weights[j] ?? 0)),
    );
    return s;
  }
}

/** Solves the augmented d x (d+1) system in place (partial pivoting). */
function solve(a: Float64Array[], d: number): Float64Array {
  const row = (i: number): Float64Array => a[i] as Float64Array;
  for (let col = 0; col < d; col++) {
    let best = col;
    for (let r = col + 1; r < d; r++)
      if (Math.abs(row(r)[col] ?? 0) > Math.abs(row(best)[col] ?? 0)) best = r;
    [a[col], a[best]] = [row(best), row(col)];
    const pivot = row(col)[col] ?? 0;
    if (pivot === 0) continue;
    for (let r = 0; r < d; r++) {
      if (r === col) continue;
      const f = (row(r)[col] ?? 0) / pivot;
      if (f === 0) continue;
      for (let k = col; k <= d; k++) row(r)[k] = (row(r)[k] ?? 0) - f * (row(col)[k] ?? 0);
    }
  }
  return Float64Array.from({ length: d }, (_, j) => {
    const p = row(j)[j] ?? 0;
    return p === 0 ? 0 : (row(j)[d] ?? 0) / p;
  });
}

/** Standard normal CDF (Abramowitz & Stegun 7.1.26 erf; error < 1.5e-7). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const poly =
    t *
    (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/**
 * E[label | z] when each annotator scores clamp(round(z + noise * N(0,1)), -3, 3): the best
 * squared-error prediction from the latent itself (what a model that recovered z exactly gets).
 */
export function expectedLabel(z: number, annotatorNoise: number): number {
  let e = 0;
  for (let k = -3; k <= 3; k++) {
    const lo = k === -3 ? 0 : normalCdf((k - 0.5 - z) / annotatorNoise);
    const hi = k === 3 ? 1 : normalCdf((k + 0.5 - z) / annotatorNoise);
    e += k * (hi - lo);
  }
  return e;
}
