/**
 * Central finite differences for checking hand-written gradients. Evaluates `f` at x ± eps e_i
 * for a sample of coordinates and compares with the analytic gradient. `f` may be async, so a
 * check can read its values with `await data()` rather than blocking on a GPU backend.
 */
export interface GradCheckResult {
  worst: number;
  checked: number;
}

export async function finiteDifferenceCheck(
  f: (x: Float32Array) => number | Promise<number>,
  x0: Float32Array,
  analytic: ArrayLike<number>,
  opts: { eps: number; coordinates: number[] },
): Promise<GradCheckResult> {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < analytic.length; i++) scale = Math.max(scale, Math.abs(analytic[i] ?? 0));
  for (const i of opts.coordinates) {
    const x = Float32Array.from(x0);
    const orig = x[i] ?? 0;
    x[i] = orig + opts.eps;
    const up = await f(x);
    x[i] = orig - opts.eps;
    const down = await f(x);
    // The float32 step actually taken, not the nominal eps.
    const h = Math.fround(orig + opts.eps) - Math.fround(orig - opts.eps);
    const numeric = (up - down) / h;
    const err = Math.abs(numeric - (analytic[i] ?? 0)) / Math.max(scale, 1e-12);
    worst = Math.max(worst, err);
  }
  return { worst, checked: opts.coordinates.length };
}

/** A deterministic sample of `count` coordinates out of `size`. */
export function sampleCoordinates(size: number, count: number, seed = 7): number[] {
  const out = new Set<number>();
  let s = seed >>> 0;
  while (out.size < Math.min(count, size)) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.add(s % size);
  }
  return [...out];
}
