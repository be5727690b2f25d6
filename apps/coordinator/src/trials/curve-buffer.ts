/**
 * Step curves (train/loss, lr/main, ...) arrive as many small metric points; they are kept here
 * and written to the store in one batch per trial every flush, not one write per point.
 */
import type { ExperimentStoreApi, TrialId } from '@mmim/experiments';

export interface BufferedPoint {
  name: string;
  step: number;
  value: number;
  at: number;
}

export class CurveBuffer {
  readonly #points = new Map<TrialId, BufferedPoint[]>();

  /** Keeps a point for the next flush; a non-finite value is dropped (nothing to plot). */
  add(trialId: TrialId, point: BufferedPoint): boolean {
    if (!Number.isFinite(point.value)) return false;
    let list = this.#points.get(trialId);
    if (!list) this.#points.set(trialId, (list = []));
    list.push(point);
    return true;
  }

  /** Writes what was kept, one batch per trial; points added meanwhile wait for the next. */
  async flush(store: ExperimentStoreApi): Promise<void> {
    const batches = [...this.#points];
    this.#points.clear();
    for (const [trialId, points] of batches) await store.appendPoints(trialId, points);
  }

  /** Points not yet written. */
  get pending(): number {
    let n = 0;
    for (const list of this.#points.values()) n += list.length;
    return n;
  }
}
