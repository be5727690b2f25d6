/**
 * Global-norm gradient clipping as torch.nn.utils.clip_grad_norm_: the norm runs over EVERY
 * gradient that exists (also those of parameters the current optimiser does not step, as in the
 * reference), and the factor is max_norm / (norm + 1e-6) when below 1.
 */
export function globalNorm(grads: Iterable<Float32Array | undefined>): number {
  let sum = 0;
  for (const g of grads) {
    if (g === undefined) continue;
    for (let i = 0; i < g.length; i++) {
      const x = g[i] ?? 0;
      sum += x * x;
    }
  }
  return Math.sqrt(sum);
}

/** The factor to multiply gradients by (1 when no clipping is needed). */
export function clipFactor(totalNorm: number, maxNorm: number): number {
  const coef = maxNorm / (totalNorm + 1e-6);
  return coef < 1 ? coef : 1;
}
