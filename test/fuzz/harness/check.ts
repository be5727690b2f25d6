/**
 * The fuzz property, one input at a time: the parser returns a value or throws its library's
 * documented error class with a message; it never throws anything else (a TypeError from deep
 * inside, a RangeError from an unchecked allocation or a blown stack), never takes longer than
 * the time budget, and never grows ArrayBuffer memory past the budget.
 */
import { performance } from 'node:perf_hooks';

export interface FuzzTarget {
  /** Also the corpus folder under test/fuzz/corpus/, unless `corpus` names another. */
  readonly name: string;
  /** Another target's corpus folder, when two targets read the same format. */
  readonly corpus?: string;
  /** The seeds are text (YAML, JSON, CSV): text mutations apply too. */
  readonly text: boolean;
  /** What the parser is documented to throw for bad input. */
  readonly errorClasses: readonly (abstract new (...args: never[]) => Error)[];
  /** Parses `bytes` the way a user's file reaches the parser (path, buffer or text). */
  run(bytes: Uint8Array): unknown;
}

export interface Budget {
  /** Longest a single parse of up to 64 KiB may take (scaled up for larger inputs). */
  ms: number;
  /** Most ArrayBuffer memory one parse of up to 64 KiB may leave allocated (result alive). */
  arrayBufferBytes: number;
}

/** Inputs larger than this get a proportionally larger budget: the property is linear cost. */
export const BUDGET_UNIT_BYTES = 64 * 1024;

/** For inputs under 64 KiB-ish: a second and 64 MiB. */
export const DEFAULT_BUDGET: Budget = { ms: 1000, arrayBufferBytes: 64 * 1024 * 1024 };

export type Outcome =
  | { kind: 'value'; ms: number; growth: number }
  | { kind: 'refused'; ms: number; growth: number; error: Error }
  | { kind: 'crash'; ms: number; growth: number; reason: string; error?: unknown };

/** Runs the target on `bytes` and judges the result against the property. */
export async function runOne(
  target: FuzzTarget,
  bytes: Uint8Array,
  budget: Budget = DEFAULT_BUDGET,
): Promise<Outcome> {
  const before = process.memoryUsage().arrayBuffers;
  const t0 = performance.now();
  let result: unknown;
  let thrown: unknown;
  let threw = false;
  try {
    result = await target.run(bytes);
  } catch (err) {
    threw = true;
    thrown = err;
  }
  const ms = performance.now() - t0;
  const growth = process.memoryUsage().arrayBuffers - before;
  // Held until here so the growth measured includes what the result keeps.
  void result;
  const scale = Math.max(1, bytes.length / BUDGET_UNIT_BYTES);
  if (growth > budget.arrayBufferBytes * scale) {
    return {
      kind: 'crash',
      ms,
      growth,
      reason: `allocated ${mib(growth)} for ${bytes.length} input bytes`,
      error: thrown,
    };
  }
  if (ms > budget.ms * scale) {
    return {
      kind: 'crash',
      ms,
      growth,
      reason: `took ${ms.toFixed(0)} ms (budget ${(budget.ms * scale).toFixed(0)} ms)`,
      error: thrown,
    };
  }
  if (!threw) return { kind: 'value', ms, growth };
  if (!(thrown instanceof Error)) {
    return {
      kind: 'crash',
      ms,
      growth,
      reason: `threw a non-Error: ${String(thrown)}`,
      error: thrown,
    };
  }
  if (!target.errorClasses.some((cls) => thrown instanceof cls)) {
    return {
      kind: 'crash',
      ms,
      growth,
      reason: `threw ${thrown.name}: ${thrown.message}`,
      error: thrown,
    };
  }
  if (thrown.message.trim() === '') {
    return {
      kind: 'crash',
      ms,
      growth,
      reason: `threw ${thrown.name} without a message`,
      error: thrown,
    };
  }
  return { kind: 'refused', ms, growth, error: thrown };
}

export function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * A stable identity for a crash: its reason with numbers and quoted text blanked. A child that
 * died and one that hung are one class: the same input does either, depending on how long the
 * V8 fatal error takes to arrive on a loaded machine.
 */
export function crashSignature(target: string, reason: string): string {
  if (/^(process died|hung:)/.test(reason)) return `${target}: process lost (died or hung)`;
  return `${target}: ${reason
    .replace(/\d+/g, 'N')
    .replace(/'[^']*'|"[^"]*"/g, "'…'")
    .slice(0, 160)}`;
}
