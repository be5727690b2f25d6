/**
 * Parzen estimators for TPE, one parameter at a time (Optuna's univariate `_ParzenEstimator`,
 * 3.x defaults: prior on, prior_weight 1, consider_magic_clip on, consider_endpoints off).
 *
 * Numeric parameters live in an internal space where the mixture is fitted: the value itself
 * (uniform, normal), its log (log_uniform_values), or its step number k = (x - min) / q
 * (int_uniform with q = 1, q_uniform). Kernels are normals truncated to the bounds; discrete
 * spaces widen the bounds by half a step and score a value by its bin's probability mass.
 * A `normal` parameter is treated as bounded at mu +- 4 sigma with the prior N(mu, sigma).
 */
import { standardNormal, type Rng } from './rng.js';

const SQRT1_2 = Math.SQRT1_2;

/** erfc with fractional error < 1.2e-7 everywhere (Numerical Recipes' erfcc): good tails. */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t *
                              (-1.13520398 +
                                t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** P(a < Z < b) for a standard normal Z, computed on the side that keeps precision. */
export function normalMass(a: number, b: number): number {
  if (a >= 0) return 0.5 * (erfc(a * SQRT1_2) - erfc(b * SQRT1_2));
  if (b <= 0) return 0.5 * (erfc(-b * SQRT1_2) - erfc(-a * SQRT1_2));
  return 1 - 0.5 * erfc(-a * SQRT1_2) - 0.5 * erfc(b * SQRT1_2);
}

function logSumExp(xs: number[]): number {
  const m = Math.max(...xs);
  if (!Number.isFinite(m)) return m;
  return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
}

/** Optuna's default_weights: flat below 25 observations, then older ones ramp down. */
export function defaultWeights(n: number): number[] {
  if (n < 25) return new Array<number>(n).fill(1);
  const ramp = Array.from({ length: n - 25 }, (_, i) =>
    n - 25 === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (n - 26),
  );
  return [...ramp, ...new Array<number>(25).fill(1)];
}

export interface NumericSpace {
  low: number;
  high: number;
  /** Step space: values are integers 0..high-0.5 (bounds are widened by half a step). */
  discrete: boolean;
  prior: { mu: number; sigma: number };
}

export class NumericParzen {
  private readonly mus: number[];
  private readonly sigmas: number[];
  private readonly logWeights: number[];
  private readonly weights: number[];
  private readonly logZ: number[];

  /** `obs` in internal space, oldest first; `obsWeights` from defaultWeights. */
  constructor(
    private readonly space: NumericSpace,
    obs: number[],
    obsWeights: number[],
    priorWeight = 1,
  ) {
    const { low, high } = space;
    const mus = obs.map((x) => Math.min(high, Math.max(low, x)));
    const order = mus.map((_, i) => i).sort((a, b) => (mus[a] as number) - (mus[b] as number));
    const ends = [low, ...order.map((i) => mus[i] as number), high];
    const sorted = order.map((_, j) =>
      Math.max(
        (ends[j + 1] as number) - (ends[j] as number),
        (ends[j + 2] as number) - (ends[j + 1] as number),
      ),
    );
    if (ends.length >= 4) {
      // consider_endpoints=False: the outermost kernels ignore the distance to the bound.
      sorted[0] = (ends[2] as number) - (ends[1] as number);
      sorted[sorted.length - 1] =
        (ends[ends.length - 2] as number) - (ends[ends.length - 3] as number);
    }
    const sigmas = new Array<number>(mus.length);
    order.forEach((i, j) => (sigmas[i] = sorted[j] as number));
    // Magic clip: no kernel narrower than range / min(100, 1 + kernels) or wider than the range.
    const range = high - low;
    const minSigma = range / Math.min(100, 1 + mus.length + 1);
    this.mus = [...mus, space.prior.mu];
    this.sigmas = [...sigmas.map((s) => Math.min(range, Math.max(minSigma, s))), space.prior.sigma];
    const w = [...obsWeights, priorWeight];
    const total = w.reduce((s, x) => s + x, 0);
    this.weights = w.map((x) => x / total);
    this.logWeights = this.weights.map((x) => Math.log(x));
    this.logZ = this.mus.map((mu, k) => {
      const s = this.sigmas[k] as number;
      return Math.log(normalMass((low - mu) / s, (high - mu) / s));
    });
  }

  /** One draw in internal space (a step number when discrete). */
  sample(rng: Rng): number {
    const u = rng.next();
    let k = 0;
    for (let acc = this.weights[0] as number; acc < u && k < this.weights.length - 1;)
      acc += this.weights[++k] as number;
    const mu = this.mus[k] as number;
    const sigma = this.sigmas[k] as number;
    const { low, high } = this.space;
    let x = mu;
    // Rejection from the untruncated kernel: mu is inside the bounds and sigma <= the range,
    // so at least ~1/3 of draws land inside; the clip after 100 misses never triggers in practice.
    for (let i = 0; i < 100; i++) {
      x = mu + sigma * standardNormal(rng);
      if (x >= low && x <= high) break;
    }
    x = Math.min(high, Math.max(low, x));
    return this.space.discrete ? Math.min(Math.round(high - 0.5), Math.max(0, Math.round(x))) : x;
  }

  /** log density (continuous) or log probability of the step's bin (discrete). */
  logPdf(x: number): number {
    const terms = this.mus.map((mu, k) => {
      const s = this.sigmas[k] as number;
      const base = (this.logWeights[k] as number) - (this.logZ[k] as number);
      if (this.space.discrete)
        return (
          base + Math.log(Math.max(normalMass((x - 0.5 - mu) / s, (x + 0.5 - mu) / s), 1e-300))
        );
      const z = (x - mu) / s;
      return base - 0.5 * z * z - Math.log(s) - 0.5 * Math.log(2 * Math.PI);
    });
    return logSumExp(terms);
  }
}

/** Smoothed counts: p(c) = (sum of weights of observations equal to c + prior/n) / total. */
export class CategoricalParzen {
  private readonly probs: number[];

  constructor(nChoices: number, obs: number[], obsWeights: number[], priorWeight = 1) {
    const counts = new Array<number>(nChoices).fill(priorWeight / nChoices);
    obs.forEach((c, i) => (counts[c] = (counts[c] as number) + (obsWeights[i] as number)));
    const total = counts.reduce((s, x) => s + x, 0);
    this.probs = counts.map((c) => c / total);
  }

  sample(rng: Rng): number {
    const u = rng.next();
    let acc = 0;
    for (let c = 0; c < this.probs.length; c++) {
      acc += this.probs[c] as number;
      if (u < acc) return c;
    }
    return this.probs.length - 1;
  }

  logPdf(c: number): number {
    return Math.log(this.probs[c] as number);
  }
}
