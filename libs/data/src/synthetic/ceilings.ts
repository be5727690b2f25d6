/**
 * Baselines of a synthetic dataset: what simple estimators reach per modality and fused, next to
 * the oracle that knows the latent sentiment. Every estimator is fitted on train and scored on
 * test. They come in three kinds (docs/synthetic-data.md):
 * - `train-only`: features any learner could compute without knowing the generator (word
 *   counts, per-channel statistics), fitted on the training split alone. These are reachable:
 *   a model trained from scratch on the same split can match them.
 * - `lexicon`: the text feature reads the generator's own word valences and negation rules, which
 *   a randomly initialised text encoder does not know and must learn from the training split.
 * - `oracle`: the latent sentiment itself (only annotator noise left).
 */
import type { SampleSpec } from './generator.js';
import {
  RidgeRegression,
  bagOfWords,
  expectedLabel,
  regressionMetrics,
  textFeatures,
  wordIndex,
  type RegressionMetrics,
} from './estimators.js';

/** Hand-made features of one split's samples, by modality (row i = sample i). */
export interface SplitFeatures {
  specs: readonly SampleSpec[];
  acoustic: number[][];
  visual: number[][];
}

export type CeilingKind = 'oracle' | 'lexicon' | 'train-only';

/** Each estimator and its kind, in the order the docs' tables list them. */
export const CEILING_KINDS = {
  latent: 'oracle',
  'lexicon+acoustic+visual': 'lexicon',
  lexicon: 'lexicon',
  'bow+acoustic+visual': 'train-only',
  bow: 'train-only',
  'acoustic+visual': 'train-only',
  visual: 'train-only',
  acoustic: 'train-only',
  constant: 'train-only',
} as const satisfies Record<string, CeilingKind>;

export type CeilingName = keyof typeof CEILING_KINDS;

export type Ceilings = Record<CeilingName, RegressionMetrics>;

/** Ridge strengths tried for each estimator, chosen by cross-validation on train. */
const LAMBDAS = [1e-3, 1e-2, 1e-1, 1] as const;
const FOLDS = 4;

const clip3 = (x: number): number => Math.min(3, Math.max(-3, x));

/**
 * The ridge strength with the lowest mean absolute error over `FOLDS` contiguous folds of the
 * training rows (contiguous rows are mostly one speaker's, so a fold is mostly unseen speakers,
 * as the test split is).
 */
function chooseLambda(x: readonly number[][], y: readonly number[]): number {
  const n = x.length;
  if (n < 2 * FOLDS) return 1e-2;
  let best: { lambda: number; mae: number } = { lambda: 1e-2, mae: Infinity };
  for (const lambda of LAMBDAS) {
    let err = 0;
    for (let f = 0; f < FOLDS; f++) {
      const lo = Math.floor((f * n) / FOLDS);
      const hi = Math.floor(((f + 1) * n) / FOLDS);
      const keep = (_: unknown, i: number): boolean => i < lo || i >= hi;
      const model = RidgeRegression.fit(x.filter(keep), y.filter(keep), lambda);
      for (let i = lo; i < hi; i++) err += Math.abs(clip3(model.predict(x[i] ?? [])) - (y[i] ?? 0));
    }
    if (err / n < best.mae) best = { lambda, mae: err / n };
  }
  return best.lambda;
}

export function computeCeilings(
  train: SplitFeatures,
  test: SplitFeatures,
  annotatorNoise: number,
): Ceilings {
  // Word counts over the words seen in train (a test word never seen in train counts nowhere).
  const words = wordIndex(train.specs.map((s) => s.text));
  const bow = (f: SplitFeatures): number[][] => f.specs.map((s) => bagOfWords(s.text, words));
  const lexicon = (f: SplitFeatures): number[][] => f.specs.map((s) => textFeatures(s.text));
  const withAv =
    (text: (f: SplitFeatures) => number[][]) =>
    (f: SplitFeatures): number[][] => {
      const t = text(f);
      return f.acoustic.map((a, i) => [...(t[i] ?? []), ...a, ...(f.visual[i] ?? [])]);
    };
  const views: Record<
    Exclude<CeilingName, 'latent' | 'constant'>,
    (f: SplitFeatures) => number[][]
  > = {
    'lexicon+acoustic+visual': withAv(lexicon),
    lexicon,
    'bow+acoustic+visual': withAv(bow),
    bow,
    'acoustic+visual': (f) => f.acoustic.map((a, i) => [...a, ...(f.visual[i] ?? [])]),
    visual: (f) => f.visual,
    acoustic: (f) => f.acoustic,
  };
  const yTrain = train.specs.map((s) => s.label);
  const yTest = test.specs.map((s) => s.label);
  const meanTrain = yTrain.reduce((a, b) => a + b, 0) / yTrain.length;
  const out = {
    latent: regressionMetrics(
      test.specs.map((s) => expectedLabel(s.latent, annotatorNoise)),
      yTest,
    ),
    constant: regressionMetrics(
      yTest.map(() => meanTrain),
      yTest,
    ),
  } as Ceilings;
  for (const [name, view] of Object.entries(views) as [
    keyof typeof views,
    (f: SplitFeatures) => number[][],
  ][]) {
    const x = view(train);
    const model = RidgeRegression.fit(x, yTrain, chooseLambda(x, yTrain));
    out[name] = regressionMetrics(
      view(test).map((row) => clip3(model.predict(row))),
      yTest,
    );
  }
  // The table's order, whatever order the fits ran in.
  return Object.fromEntries(
    (Object.keys(CEILING_KINDS) as CeilingName[]).map((k) => [k, out[k]]),
  ) as Ceilings;
}
