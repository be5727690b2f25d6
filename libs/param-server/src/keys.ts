/**
 * Every Redis key this lib touches is built here, so the layout is documented in one place.
 *
 * All of a trial's keys carry the hash tag `{trial:<id>}`: Redis Cluster hashes only the tagged
 * part, so a trial's chunks, gradients and counters land on one slot and the Lua scripts (which
 * must only touch keys of one slot) can update several of them atomically.
 */

export const DEFAULT_PREFIX = 'mmim:';

/** The key names of one trial. Chunk, step and rank numbers are plain decimal integers. */
export class TrialKeys {
  readonly base: string;

  constructor(
    readonly trial: string,
    prefix: string = DEFAULT_PREFIX,
  ) {
    // A brace in the id would end the hash tag early and scatter the trial over slots.
    if (trial.length === 0 || /[{}\s]/.test(trial)) {
      throw new Error(
        `invalid trial id ${JSON.stringify(trial)}: must be non-empty, no braces or spaces`,
      );
    }
    this.base = `${prefix}{trial:${trial}}:`;
  }

  /** String: the number of steps fully applied to every chunk; absent until initialised. */
  version(): string {
    return `${this.base}version`;
  }
  /** String: JSON of the chunk plan's inputs (parameter names and sizes, chunk bytes, ownership). */
  meta(): string {
    return `${this.base}meta`;
  }
  /** String with PX: token of the process writing the initial values. */
  initLock(): string {
    return `${this.base}init-lock`;
  }
  /** Hash chunk -> version of that chunk (steps applied to it). */
  chunkVersions(): string {
    return `${this.base}chunkver`;
  }
  param(chunk: number): string {
    return `${this.base}param:${chunk}`;
  }
  /** Adam's first moment for a chunk. */
  m(chunk: number): string {
    return `${this.base}m:${chunk}`;
  }
  /** Adam's second moment for a chunk. */
  v(chunk: number): string {
    return `${this.base}v:${chunk}`;
  }
  /** One rank's gradient for one chunk at one step (TTL'd). */
  grad(step: number, rank: number, chunk: number): string {
    return `${this.base}grad:${step}:${rank}:${chunk}`;
  }
  /** Stream: one entry per rank once all its gradient chunks for the step are written. */
  gradsReady(step: number): string {
    return `${this.base}grads-ready:${step}`;
  }
  /** Stream: one entry per rank carrying its part of the squared global gradient norm. */
  normParts(step: number): string {
    return `${this.base}norm-parts:${step}`;
  }
  /** Counter: how many chunks have been applied for the step. */
  doneCount(step: number): string {
    return `${this.base}done-count:${step}`;
  }
  /** Stream: gets one entry when the last chunk of the step is applied (wakes pullers). */
  stepDone(step: number): string {
    return `${this.base}step-done:${step}`;
  }
  /** SCAN pattern matching every key of the trial (glob-escaped braces). */
  /** Bytes with PX: rank `rank`'s payload for collective `tag` at `step` (chunk for reductions). */
  collective(tag: string, step: number, rank: number, chunk = 0): string {
    return `${this.base}coll:${tag}:${step}:${rank}:${chunk}`;
  }
  /** Bytes with PX: part `part` of what rank `from` sends rank `to` in collective `tag` at `step`. */
  collectiveTo(tag: string, step: number, from: number, to: number, part: number): string {
    return `${this.base}coll:${tag}:${step}:${from}>${to}:${part}`;
  }
  /** Bytes: the live state's chunk `chunk` (kind p = parameters, m / v = Adam moments). */
  liveChunk(attempt: number, chunk: number, version: number, kind: 'p' | 'm' | 'v'): string {
    return `${this.base}live:a${attempt}:c${chunk}:v${version}:${kind}`;
  }
  /** String: JSON of the live state's head (attempt, chunk versions, plan, trainer cursor). */
  liveHead(): string {
    return `${this.base}live:head`;
  }
  /** String: the newest attempt allowed to write the live state. */
  liveFence(): string {
    return `${this.base}live:fence`;
  }
  /** SCAN pattern of one attempt's live chunks (all attempts' with `*`). */
  livePattern(attempt: number | '*'): string {
    return `${this.base.replace(/[*?[\]\\]/g, '\\$&')}live:a${attempt}:*`;
  }
  /** List with PX: one token per peer that has published its part of collective `tag` at `step`. */
  collectiveNotify(tag: string, step: number, rank: number): string {
    return `${this.base}coll:${tag}:${step}:notify:${rank}`;
  }
  pattern(): string {
    return `${this.base.replace(/[*?[\]\\]/g, '\\$&')}*`;
  }
}
