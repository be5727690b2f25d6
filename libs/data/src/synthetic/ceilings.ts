/**
 * Ceilings of a synthetic dataset: what simple estimators reach per modality and fused, next to
 * the oracle that knows the latent sentiment. Fitted on train, scored on test.
 */
import type { SampleSpec } from './generator.js';
import {
  RidgeRegression,
  expectedLabel,
  regressionMetrics,
  textFeatures,
  type RegressionMetrics,
} from './estimators.js';

/** Hand-made features of one split's samples, by modality (row i = sample i). */
export interface SplitFeatures {
  specs: readonly SampleSpec[];
  acoustic: number[][];
  visual: number[][];
}

export type CeilingName =
  | 'latent'
  | 'text'
  | 'acoustic'
  | 'visual'
  | 'acoustic+visual'
  | 'text+acoustic+visual'
  | 'constant';

export type Ceilings = Record<CeilingName, RegressionMetrics>;

const clip3 = (x: number): number => Math.min(3, Math.max(-3, x));

export function computeCeilings(
  train: SplitFeatures,
  test: SplitFeatures,
  annotatorNoise: number,
): Ceilings {
  const text = (f: SplitFeatures): number[][] => f.specs.map((s) => textFeatures(s.text));
  const views: Record<
    Exclude<CeilingName, 'latent' | 'constant'>,
    (f: SplitFeatures) => number[][]
  > = {
    text,
    acoustic: (f) => f.acoustic,
    visual: (f) => f.visual,
    'acoustic+visual': (f) => f.acoustic.map((a, i) => [...a, ...(f.visual[i] ?? [])]),
    'text+acoustic+visual': (f) => {
      const t = text(f);
      return f.acoustic.map((a, i) => [...(t[i] ?? []), ...a, ...(f.visual[i] ?? [])]);
    },
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
    const model = RidgeRegression.fit(view(train), yTrain);
    out[name] = regressionMetrics(
      view(test).map((row) => clip3(model.predict(row))),
      yTest,
    );
  }
  return out;
}
