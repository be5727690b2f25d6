/**
 * The plan recorded in Redis at initialisation, so every rank rebuilds the same chunk layout and
 * ownership from the trial alone (and a rank with a different model fails loudly).
 */
import { makeChunkPlan, type ChunkPlan, type OwnershipStrategy } from './chunking.js';

export interface PlanMeta {
  chunkBytes: number;
  ownership: OwnershipStrategy;
  params: { name: string; size: number }[];
}

export function planMeta(plan: ChunkPlan, ownership: OwnershipStrategy): PlanMeta {
  return {
    chunkBytes: plan.chunkBytes,
    ownership,
    params: plan.params.map((p) => ({ name: p.name, size: p.size })),
  };
}

/** Canonical text (fixed key order), so equal plans compare equal as strings. */
export function encodePlanMeta(meta: PlanMeta): string {
  return JSON.stringify({
    chunkBytes: meta.chunkBytes,
    ownership: meta.ownership,
    params: meta.params.map((p) => ({ name: p.name, size: p.size })),
  });
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function decodePlanMeta(text: string): PlanMeta {
  const raw: unknown = JSON.parse(text);
  if (!isRecord(raw) || typeof raw.chunkBytes !== 'number' || !Array.isArray(raw.params)) {
    throw new Error('malformed plan meta');
  }
  const ownership = raw.ownership;
  if (ownership !== 'round-robin' && ownership !== 'balanced') {
    throw new Error(`unknown ownership ${String(ownership)}`);
  }
  const params = raw.params.map((p: unknown) => {
    if (!isRecord(p) || typeof p.name !== 'string' || typeof p.size !== 'number') {
      throw new Error('malformed parameter in plan meta');
    }
    return { name: p.name, size: p.size };
  });
  return { chunkBytes: raw.chunkBytes, ownership, params };
}

export function planFromMeta(meta: PlanMeta): ChunkPlan {
  return makeChunkPlan(meta.params, meta.chunkBytes);
}
