/**
 * MMIM's evaluation metrics exactly as the reference computes them (utils/eval_metrics.py,
 * `eval_mosei_senti`): MAE, Pearson correlation, Acc-7 / Acc-5 on clipped and rounded scores
 * (numpy's round-half-to-even), and Acc-2 / weighted F1 in the "has0" (>= 0, all samples) and
 * "non0" (> 0, samples whose label is not 0) variants.
 */

export interface SentimentMetrics {
  mae: number;
  corr: number;
  acc7: number;
  acc5: number;
  acc2_has0: number;
  acc2_non0: number;
  f1_has0: number;
  f1_non0: number;
  /** Samples evaluated, and those with a non-zero label (the non0 metrics' denominator). */
  n: number;
  n_non0: number;
}

/** numpy.round: halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function clip(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

function multiclassAccuracy(p: ArrayLike<number>, y: ArrayLike<number>, bound: number): number {
  let hit = 0;
  for (let i = 0; i < y.length; i++) {
    if (
      roundHalfEven(clip(p[i] ?? 0, -bound, bound)) ===
      roundHalfEven(clip(y[i] ?? 0, -bound, bound))
    )
      hit++;
  }
  return hit / y.length;
}

/** Pearson correlation (np.corrcoef); NaN when either side is constant, as numpy gives. */
export function pearson(p: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = y.length;
  let mp = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mp += p[i] ?? 0;
    my += y[i] ?? 0;
  }
  mp /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const a = (p[i] ?? 0) - mp;
    const b = (y[i] ?? 0) - my;
    sxy += a * b;
    sxx += a * a;
    syy += b * b;
  }
  return sxy / Math.sqrt(sxx * syy);
}

/** sklearn's f1_score(average='weighted') for boolean labels, plus accuracy. */
export function binaryScores(
  truth: boolean[],
  pred: boolean[],
): { accuracy: number; weightedF1: number } {
  let tp = 0;
  let tn = 0;
  let fp = 0;
  let fn = 0;
  truth.forEach((t, i) => {
    const p = pred[i] ?? false;
    if (t && p) tp++;
    else if (!t && !p) tn++;
    else if (!t && p) fp++;
    else fn++;
  });
  const n = truth.length;
  // Per-class F1 (0 when undefined, as sklearn's zero_division default), weighted by support.
  const f1 = (tpc: number, fpc: number, fnc: number): number =>
    2 * tpc + fpc + fnc === 0 ? 0 : (2 * tpc) / (2 * tpc + fpc + fnc);
  const supportPos = tp + fn;
  const supportNeg = tn + fp;
  const weightedF1 = n === 0 ? 0 : (f1(tp, fp, fn) * supportPos + f1(tn, fn, fp) * supportNeg) / n;
  return { accuracy: n === 0 ? Number.NaN : (tp + tn) / n, weightedF1 };
}

export function sentimentMetrics(
  preds: ArrayLike<number>,
  labels: ArrayLike<number>,
): SentimentMetrics {
  if (preds.length !== labels.length) {
    throw new Error(`metrics: ${preds.length} predictions for ${labels.length} labels`);
  }
  const n = labels.length;
  let absErr = 0;
  for (let i = 0; i < n; i++) absErr += Math.abs((preds[i] ?? 0) - (labels[i] ?? 0));
  const truthHas0: boolean[] = [];
  const predHas0: boolean[] = [];
  const truthNon0: boolean[] = [];
  const predNon0: boolean[] = [];
  for (let i = 0; i < n; i++) {
    const y = labels[i] ?? 0;
    const p = preds[i] ?? 0;
    truthHas0.push(y >= 0);
    predHas0.push(p >= 0);
    if (y !== 0) {
      truthNon0.push(y > 0);
      predNon0.push(p > 0);
    }
  }
  const has0 = binaryScores(truthHas0, predHas0);
  const non0 = binaryScores(truthNon0, predNon0);
  return {
    mae: absErr / n,
    corr: pearson(preds, labels),
    acc7: multiclassAccuracy(preds, labels, 3),
    acc5: multiclassAccuracy(preds, labels, 2),
    acc2_has0: has0.accuracy,
    acc2_non0: non0.accuracy,
    f1_has0: has0.weightedF1,
    f1_non0: non0.weightedF1,
    n,
    n_non0: truthNon0.length,
  };
}
