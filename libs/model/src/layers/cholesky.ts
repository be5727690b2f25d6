/**
 * Cholesky factorisation and the inverse from it, in float64 on host arrays: the host backends'
 * implementation of the SPD log det kernel (kernels/spd-logdet.ts) and the reference the device
 * implementations are tested against.
 */
export interface CholeskyResult {
  /** Lower-triangular factor, row-major (n x n), float64. */
  lower: Float64Array;
  logdet: number;
}

/** Smallest pivot accepted, relative to the largest diagonal entry. */
export const RELATIVE_PIVOT_FLOOR = 1e-10;

/** Cholesky of the (symmetric) matrix's lower triangle; null when not positive definite. */
export function cholesky(a: ArrayLike<number>, n: number): CholeskyResult | null {
  const L = new Float64Array(n * n);
  let maxDiag = 0;
  for (let i = 0; i < n; i++) maxDiag = Math.max(maxDiag, Math.abs(a[i * n + i] ?? 0));
  if (!(maxDiag > 0) || !Number.isFinite(maxDiag)) return null;
  const floor = maxDiag * RELATIVE_PIVOT_FLOOR;
  let logdet = 0;
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j] ?? 0;
    for (let k = 0; k < j; k++) d -= (L[j * n + k] ?? 0) ** 2;
    if (!(d > floor) || !Number.isFinite(d)) return null;
    const ljj = Math.sqrt(d);
    L[j * n + j] = ljj;
    logdet += 2 * Math.log(ljj);
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j] ?? 0;
      for (let k = 0; k < j; k++) s -= (L[i * n + k] ?? 0) * (L[j * n + k] ?? 0);
      L[i * n + j] = s / ljj;
    }
  }
  return { lower: L, logdet };
}

/** A^-1 from its Cholesky factor (A = L L^T, so A^-1 = L^-T L^-1). */
export function inverseFromCholesky(L: Float64Array, n: number): Float64Array {
  // Solve L Y = I column by column, then L^T X = Y.
  const inv = new Float64Array(n * n);
  const y = new Float64Array(n);
  for (let col = 0; col < n; col++) {
    for (let i = 0; i < n; i++) {
      let s = i === col ? 1 : 0;
      for (let k = 0; k < i; k++) s -= (L[i * n + k] ?? 0) * (y[k] ?? 0);
      y[i] = s / (L[i * n + i] ?? 1);
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = y[i] ?? 0;
      for (let k = i + 1; k < n; k++) s -= (L[k * n + i] ?? 0) * (inv[k * n + col] ?? 0);
      inv[i * n + col] = s / (L[i * n + i] ?? 1);
    }
  }
  return inv;
}
