/**
 * An in-process rank group for tests: K trainers in one process meet at a barrier per
 * collective; the all-gather concatenates the ranks' rows and the gradient sum adds them, both
 * in rank order (as the Redis group does), so every rank receives the same bits.
 */
import { gatherCoupling, type CouplingRows, type ParamName, type RankGroup } from '@mmim/model';

export class MemoryRankGroups {
  private readonly barrier: MemoryBarrier;

  constructor(readonly worldSize: number) {
    this.barrier = new MemoryBarrier(worldSize);
  }

  /** The group as rank `r` sees it. */
  rank(r: number): RankGroup {
    return {
      allGather: (rows) =>
        this.barrier.collect(r, rows, (all: CouplingRows[]) => gatherCoupling(all)),
      sumGradients: (grads) => this.barrier.collect(r, grads, sumInRankOrder),
    };
  }
}

/** K ranks in one process meeting per call: the n-th call of every rank meets the others' n-th. */
export class MemoryBarrier {
  private readonly slots = new Map<string, { values: unknown[]; waiting: (() => void)[] }>();
  private readonly calls: number[];

  constructor(readonly worldSize: number) {
    this.calls = Array.from({ length: worldSize }, () => 0);
  }

  /** Waits for every rank's value, then combines them (every rank gets the same result). */
  async collect<T, R>(r: number, value: T, combine: (all: T[]) => R): Promise<R> {
    const key = String(this.calls[r]);
    this.calls[r] = (this.calls[r] ?? 0) + 1;
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = { values: new Array<unknown>(this.worldSize), waiting: [] };
      this.slots.set(key, slot);
    }
    slot.values[r] = value;
    const s = slot;
    await new Promise<void>((resolve) => {
      s.waiting.push(resolve);
      if (s.waiting.length === this.worldSize) s.waiting.forEach((f) => f());
    });
    // Every rank combines the same inputs in the same order: identical results.
    this.slots.delete(key);
    return combine(s.values as T[]);
  }
}

function sumInRankOrder(all: Map<ParamName, Float32Array>[]): Map<ParamName, Float32Array> {
  const out = new Map<ParamName, Float32Array>();
  for (const m of all) {
    for (const [k, g] of m) {
      const acc = out.get(k);
      if (acc === undefined) out.set(k, Float32Array.from(g));
      else for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + g[i]!;
    }
  }
  return out;
}
