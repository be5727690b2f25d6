/**
 * ParamStore: parameters and Adam moments of a trial, chunked in Redis, and the synchronous
 * data-parallel step protocol over them (see docs/param-server.md):
 *
 *   every rank: publishGradients(step)            -> grad keys + a grads-ready stream entry
 *   owners:     reduceAndApply(step)              -> wait for all ranks, sum, [clip], apply, store
 *   every rank: pullParameters(step)              -> wait for the step-done entry, read chunks
 *
 * One instance per process and Redis connection. Waits use a second connection (a duplicate of
 * the given one) because XREAD BLOCK holds its connection.
 */
import { randomUUID } from 'node:crypto';
import { bufferToF32, f32ToBuffer } from './bytes.js';
import { duplicateClient, scanTargets, type RedisClient } from './client.js';
import {
  ownedChunks,
  scatterToChunks,
  type ChunkPlan,
  type OwnershipStrategy,
} from './chunking.js';
import { ParamServerError, ParamServerTimeoutError, type ProtocolPlace } from './errors.js';
import { DEFAULT_PREFIX, TrialKeys } from './keys.js';
import { decodePlanMeta, encodePlanMeta, planFromMeta, planMeta } from './plan-meta.js';
import { withScripts, type ScriptCommands } from './scripts.js';
import { pollUntil, readStreamUntil } from './waits.js';

export interface ParamStoreOptions {
  /** Key prefix before the `{trial:<id>}` hash tag. Default `mmim:`. */
  prefix?: string;
  /** Default deadline of every wait, in ms. Default 120 000. */
  timeoutMs?: number;
  /** TTL of gradient keys and per-step streams/counters, in ms. Default 30 min. */
  gradTtlMs?: number;
  /** How long a crashed initialiser blocks others, in ms. Default 60 000. */
  initLockTtlMs?: number;
  /**
   * Chunk values in flight at once on the connection. Small on purpose: pipelining many large
   * values is slower here and keeps Redis busy for everyone else.
   */
  ioGroupSize?: number;
}

export interface WaitOptions {
  /** Deadline for this call, in ms; defaults to the store's timeoutMs. */
  timeoutMs?: number;
}

export interface InitializeOptions extends WaitOptions {
  /** Delete every key of the trial first and write anew (exclusive: no other writers). */
  force?: boolean;
  /** Steps already applied to these values (a resumed checkpoint); default 0. */
  version?: number;
  /** Initial first/second moments; zeros when absent. */
  m?: ReadonlyMap<string, Float32Array>;
  v?: ReadonlyMap<string, Float32Array>;
  /** Chunk ownership rule recorded for the trial; default round-robin. */
  ownership?: OwnershipStrategy;
}

export interface ApplyContext {
  /** The step being applied; also the number of updates the chunk has had before (Adam's t-1). */
  step: number;
  /** Multiply gradients by this (mean scaling times the clip factor). */
  gradScale: number;
}

/**
 * The optimiser for one chunk: update `params`, `m` and `v` in place from the summed `grads`.
 * The store stays optimiser-agnostic; e.g. with the model lib's Adam:
 * `(c, p, g, m, v, ctx) => adamUpdate(p, g, { m, v, step: ctx.step }, hyper, ctx.gradScale)`.
 */
export type ApplyFn = (
  chunk: number,
  params: Float32Array,
  grads: Float32Array,
  m: Float32Array,
  v: Float32Array,
  ctx: ApplyContext,
) => void | Promise<void>;

/** Gradients summed over all ranks for the chunks one rank owns. */
export interface ReducedGradients {
  step: number;
  rank: number;
  worldSize: number;
  chunks: Map<number, Float32Array>;
  /** Sum of squares of the summed gradients of these chunks (float64). */
  sumOfSquares: number;
}

export interface ReduceOptions extends WaitOptions {
  /** Scale applied to the summed gradients (e.g. 1 / worldSize for a mean). Default 1. */
  gradScale?: number;
  /** Clip the global norm of the scaled gradient to this (two-phase protocol). */
  clipNorm?: number;
}

export interface ReduceResult {
  /** Chunks this call wrote. */
  applied: number[];
  /** Owned chunks already applied for the step (a retry): left untouched. */
  skipped: number[];
  /** Global norm of the scaled gradient, when clipping was requested. */
  gradNorm: number | null;
  /** The scale handed to `apply` (gradScale times the clip factor). */
  gradScale: number;
}

export interface ChunkState {
  version: number;
  param: Float32Array;
  m: Float32Array;
  v: Float32Array;
}

/** A trial's chunk plan and ownership rule, as recorded at initialisation. */
export interface TrialPlan {
  plan: ChunkPlan;
  ownership: OwnershipStrategy;
}

type Exec = [error: Error | null, result: unknown][] | null;

function chunked<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

function checkExec(res: Exec, place: ProtocolPlace): unknown[] {
  if (!res) throw new ParamServerError('transaction aborted', place);
  return res.map(([err, value]) => {
    if (err) throw new ParamServerError(err.message, place);
    return value;
  });
}

function checkStepRank(place: ProtocolPlace, worldSize?: number): void {
  const { step, rank } = place;
  if (step !== undefined && !Number.isInteger(step)) {
    throw new ParamServerError('step must be an integer', place);
  }
  if (rank !== undefined && (!Number.isInteger(rank) || rank < 0)) {
    throw new ParamServerError('rank must be a non-negative integer', place);
  }
  if (worldSize !== undefined) {
    if (!Number.isInteger(worldSize) || worldSize < 1) {
      throw new ParamServerError(`invalid world size ${worldSize}`, place);
    }
    if (rank !== undefined && rank >= worldSize) {
      throw new ParamServerError(`rank is outside world size ${worldSize}`, place);
    }
  }
}

export class ParamStore {
  private readonly client: RedisClient & ScriptCommands;
  private blockingClient: RedisClient | null = null;
  private readonly plans = new Map<string, TrialPlan>();
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly gradTtlMs: number;
  private readonly initLockTtlMs: number;
  private readonly group: number;

  /** `client` stays the caller's: close() leaves it open. */
  constructor(client: RedisClient, options: ParamStoreOptions = {}) {
    this.client = withScripts(client);
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.gradTtlMs = options.gradTtlMs ?? 30 * 60_000;
    this.initLockTtlMs = options.initLockTtlMs ?? 60_000;
    this.group = Math.max(1, options.ioGroupSize ?? 2);
  }

  keys(trial: string): TrialKeys {
    return new TrialKeys(trial, this.prefix);
  }

  /** Closes the store's own blocking connection (not the client it was given). */
  async close(): Promise<void> {
    const b = this.blockingClient;
    this.blockingClient = null;
    if (b) b.disconnect();
  }

  private blocking(): RedisClient {
    this.blockingClient ??= duplicateClient(this.client);
    return this.blockingClient;
  }

  private deadline(opts?: WaitOptions): { at: number; ms: number } {
    const ms = opts?.timeoutMs ?? this.timeoutMs;
    return { at: Date.now() + ms, ms };
  }

  // ---------------------------------------------------------------- initialisation and plan

  /**
   * Write a trial's parameters and moments once. Concurrent callers race through the
   * init-begin script: one writes (returns true), the others wait until it has committed and
   * return false. Throws if the trial exists with a different plan.
   */
  async initialize(
    trial: string,
    plan: ChunkPlan,
    values: ReadonlyMap<string, Float32Array>,
    opts: InitializeOptions = {},
  ): Promise<boolean> {
    const keys = this.keys(trial);
    const place = { trial };
    const version = opts.version ?? 0;
    if (!Number.isInteger(version) || version < 0) {
      throw new ParamServerError(`invalid initial version ${version}`, place);
    }
    const ownership = opts.ownership ?? 'round-robin';
    const metaText = encodePlanMeta(planMeta(plan, ownership));
    // Validate (and copy into chunks) before touching Redis.
    const params = scatterToChunks(plan, values);
    const ms = opts.m ? scatterToChunks(plan, opts.m) : null;
    const vs = opts.v ? scatterToChunks(plan, opts.v) : null;
    if (opts.force) await this.deleteTrial(trial);

    const dl = this.deadline(opts);
    const token = randomUUID();
    let delay = 20;
    for (;;) {
      const claim = await this.client.psInitBegin(
        keys.version(),
        keys.initLock(),
        token,
        this.initLockTtlMs,
      );
      if (claim === 1) break;
      if (claim === 0) {
        const existing = await this.client.get(keys.meta());
        if (existing !== metaText) {
          throw new ParamServerError(
            'already initialised with a different plan (parameter names/sizes, chunk bytes or ownership)',
            place,
          );
        }
        this.plans.set(trial, { plan, ownership });
        return false;
      }
      if (Date.now() >= dl.at) {
        throw new ParamServerTimeoutError(
          'waiting for another process to finish initialising',
          place,
          dl.ms,
        );
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 500);
    }

    for (const group of chunked(plan.chunks, this.group)) {
      await Promise.all(
        group.map(async (c) => {
          const p = params[c.index] as Float32Array;
          const zeros = ms && vs ? null : Buffer.alloc(c.length * 4);
          await this.client.set(keys.param(c.index), f32ToBuffer(p));
          await this.client.set(
            keys.m(c.index),
            ms ? f32ToBuffer(ms[c.index] as Float32Array) : (zeros as Buffer),
          );
          await this.client.set(
            keys.v(c.index),
            vs ? f32ToBuffer(vs[c.index] as Float32Array) : (zeros as Buffer),
          );
        }),
      );
    }
    try {
      await this.client.psInitCommit(
        keys.version(),
        keys.initLock(),
        keys.chunkVersions(),
        keys.meta(),
        token,
        version,
        plan.chunks.length,
        metaText,
      );
    } catch (e) {
      throw new ParamServerError(`commit failed: ${(e as Error).message}`, place);
    }
    this.plans.set(trial, { plan, ownership });
    return true;
  }

  /** The trial's chunk plan and ownership as recorded at initialisation (waits for it). */
  async getPlan(trial: string, opts?: WaitOptions): Promise<TrialPlan> {
    const cached = this.plans.get(trial);
    if (cached) return cached;
    const keys = this.keys(trial);
    const dl = this.deadline(opts);
    // The version key is written last by init-commit, so once it exists the meta is complete.
    const text = await pollUntil(async () => {
      const [version, meta] = await this.client.mget(keys.version(), keys.meta());
      return typeof version === 'string' && typeof meta === 'string' ? meta : null;
    }, dl.at);
    if (text === null) {
      throw new ParamServerTimeoutError(
        'waiting for the trial to be initialised',
        { trial },
        dl.ms,
      );
    }
    const meta = decodePlanMeta(text);
    const tp = { plan: planFromMeta(meta), ownership: meta.ownership };
    this.plans.set(trial, tp);
    return tp;
  }

  /** Chunks `rank` reduces and applies. */
  async ownedChunks(trial: string, rank: number, worldSize: number): Promise<number[]> {
    const { plan, ownership } = await this.getPlan(trial);
    return ownedChunks(plan, rank, worldSize, ownership);
  }

  /** Steps fully applied to every chunk, or null before initialisation. */
  async currentVersion(trial: string): Promise<number | null> {
    const v = await this.client.get(this.keys(trial).version());
    return v === null ? null : Number(v);
  }

  // ---------------------------------------------------------------- gradients

  /**
   * Write this rank's gradient for every chunk of the plan, then announce it on the step's
   * grads-ready stream. The announcement comes after every SET is acknowledged, so an owner
   * that sees it finds all the chunks. Safe to repeat (owners count distinct ranks).
   */
  async publishGradients(
    trial: string,
    step: number,
    rank: number,
    chunkGrads: readonly Float32Array[],
  ): Promise<void> {
    const place = { trial, step, rank };
    checkStepRank(place);
    const { plan } = await this.getPlan(trial);
    if (chunkGrads.length !== plan.chunks.length) {
      throw new ParamServerError(
        `got ${chunkGrads.length} gradient chunks, plan has ${plan.chunks.length}`,
        place,
      );
    }
    const keys = this.keys(trial);
    for (const group of chunked(plan.chunks, this.group)) {
      await Promise.all(
        group.map((c) => {
          const g = chunkGrads[c.index] as Float32Array;
          if (g.length !== c.length) {
            throw new ParamServerError(`gradient has ${g.length} elements, chunk has ${c.length}`, {
              ...place,
              chunk: c.index,
            });
          }
          return this.client.set(
            keys.grad(step, rank, c.index),
            f32ToBuffer(g),
            'PX',
            this.gradTtlMs,
          );
        }),
      );
    }
    const ready = keys.gradsReady(step);
    const res = await this.client
      .multi()
      .xadd(ready, '*', 'rank', String(rank))
      .pexpire(ready, this.gradTtlMs)
      .exec();
    checkExec(res, place);
  }

  /** Wait until every rank announced its gradients for the step. */
  private async waitForRanks(
    key: string,
    worldSize: number,
    what: string,
    place: ProtocolPlace,
    opts: WaitOptions | undefined,
    onEntry: (rank: number, fields: Record<string, string>) => void = () => {},
  ): Promise<void> {
    const dl = this.deadline(opts);
    const seen = new Set<number>();
    const ok = await readStreamUntil(this.blocking(), key, dl.at, (f) => {
      const r = Number(f.rank);
      if (Number.isInteger(r) && r >= 0 && r < worldSize) {
        seen.add(r);
        onEntry(r, f);
      }
      return seen.size === worldSize;
    });
    if (!ok) {
      const missing = [...Array(worldSize).keys()].filter((r) => !seen.has(r));
      throw new ParamServerTimeoutError(
        `waiting for ${what} from rank(s) ${missing.join(', ')} of ${worldSize}`,
        place,
        dl.ms,
      );
    }
  }

  /** Sum every rank's gradients for the chunks `rank` owns (after all ranks published). */
  async reduceGradients(
    trial: string,
    step: number,
    rank: number,
    worldSize: number,
    opts?: WaitOptions,
  ): Promise<ReducedGradients> {
    const place = { trial, step, rank };
    checkStepRank(place, worldSize);
    const { plan, ownership } = await this.getPlan(trial, opts);
    const owned = ownedChunks(plan, rank, worldSize, ownership);
    const out: ReducedGradients = { step, rank, worldSize, chunks: new Map(), sumOfSquares: 0 };
    if (owned.length === 0) return out;
    const keys = this.keys(trial);
    await this.waitForRanks(keys.gradsReady(step), worldSize, 'gradients', place, opts);
    const ranks = [...Array(worldSize).keys()];
    for (const c of owned) {
      const len = plan.chunks[c]?.length ?? 0;
      // Summed in rank order in float32, so results do not depend on arrival order.
      const acc = new Float32Array(len);
      for (const group of chunked(ranks, this.group)) {
        const bufs = await Promise.all(
          group.map((r) => this.client.getBuffer(keys.grad(step, r, c))),
        );
        group.forEach((r, i) => {
          const b = bufs[i];
          const where = { trial, step, rank: r, chunk: c };
          if (!b) {
            throw new ParamServerError(
              'gradient missing (expired after gradTtlMs, or removed by cleanupStep?)',
              where,
            );
          }
          if (b.byteLength !== len * 4) {
            throw new ParamServerError(
              `gradient has ${b.byteLength} bytes, chunk has ${len * 4}`,
              where,
            );
          }
          const g = bufferToF32(b);
          for (let i = 0; i < len; i++) acc[i] = (acc[i] as number) + (g[i] as number);
        });
      }
      let ssq = 0;
      for (let i = 0; i < len; i++) ssq += (acc[i] as number) * (acc[i] as number);
      out.sumOfSquares += ssq;
      out.chunks.set(c, acc);
    }
    return out;
  }

  // ---------------------------------------------------------------- global norm (two phases)

  /**
   * Phase 1 of clipping: every rank (owner of chunks or not) publishes the sum of squares of
   * its reduced chunks. Repeating is harmless: the first entry per rank counts.
   */
  async publishGradNormPart(
    trial: string,
    step: number,
    rank: number,
    sumOfSquares: number,
  ): Promise<void> {
    const place = { trial, step, rank };
    checkStepRank(place);
    if (!Number.isFinite(sumOfSquares) || sumOfSquares < 0) {
      throw new ParamServerError(`invalid sum of squares ${sumOfSquares}`, place);
    }
    const key = this.keys(trial).normParts(step);
    const res = await this.client
      .multi()
      .xadd(key, '*', 'rank', String(rank), 'ssq', String(sumOfSquares))
      .pexpire(key, this.gradTtlMs)
      .exec();
    checkExec(res, place);
  }

  /** Phase 2: wait for all parts; the L2 norm of the summed (unscaled) gradient. */
  async globalGradNorm(
    trial: string,
    step: number,
    worldSize: number,
    opts?: WaitOptions,
  ): Promise<number> {
    const place = { trial, step };
    checkStepRank(place, worldSize);
    const parts = new Map<number, number>();
    await this.waitForRanks(
      this.keys(trial).normParts(step),
      worldSize,
      'gradient-norm parts',
      place,
      opts,
      (r, f) => {
        if (!parts.has(r)) parts.set(r, Number(f.ssq));
      },
    );
    let total = 0;
    // Added in rank order so every rank computes the bit-identical norm and clip factor.
    for (let r = 0; r < worldSize; r++) total += parts.get(r) ?? 0;
    return Math.sqrt(total);
  }

  // ---------------------------------------------------------------- apply

  /**
   * Run `apply` on each reduced chunk and store the result with apply-chunk.lua. A chunk already
   * applied for the step is skipped unread, so retries never apply an update twice.
   */
  async applyReduced(
    trial: string,
    reduced: ReducedGradients,
    apply: ApplyFn,
    gradScale = 1,
  ): Promise<{ applied: number[]; skipped: number[] }> {
    const { step, rank } = reduced;
    const { plan } = await this.getPlan(trial);
    const keys = this.keys(trial);
    const applied: number[] = [];
    const skipped: number[] = [];
    for (const [c, grads] of reduced.chunks) {
      const place = { trial, step, rank, chunk: c };
      const [ver, pb, mb, vb] = checkExec(
        await this.client
          .multi()
          .hget(keys.chunkVersions(), String(c))
          .getBuffer(keys.param(c))
          .getBuffer(keys.m(c))
          .getBuffer(keys.v(c))
          .exec(),
        place,
      );
      if (ver === null || ver === undefined) {
        throw new ParamServerError('chunk has no version (trial not initialised?)', place);
      }
      const version = Number(ver);
      if (version > step) {
        skipped.push(c);
        continue;
      }
      if (version < step) {
        throw new ParamServerError(
          `chunk is at version ${version}: steps ${version}..${step - 1} never completed`,
          place,
        );
      }
      if (!(pb instanceof Buffer) || !(mb instanceof Buffer) || !(vb instanceof Buffer)) {
        throw new ParamServerError('parameter or moment chunk missing', place);
      }
      const params = bufferToF32(pb);
      const m = bufferToF32(mb);
      const v = bufferToF32(vb);
      await apply(c, params, grads, m, v, { step, gradScale });
      const len = plan.chunks[c]?.length ?? 0;
      if (params.length !== len || m.length !== len || v.length !== len) {
        throw new ParamServerError('apply changed a chunk length', place);
      }
      let status: number;
      try {
        [status] = await this.client.psApplyChunk(
          keys.param(c),
          keys.m(c),
          keys.v(c),
          keys.chunkVersions(),
          keys.doneCount(step),
          keys.version(),
          keys.stepDone(step),
          c,
          step,
          plan.chunks.length,
          f32ToBuffer(params),
          f32ToBuffer(m),
          f32ToBuffer(v),
          this.gradTtlMs,
        );
      } catch (e) {
        throw new ParamServerError(`apply-chunk failed: ${(e as Error).message}`, place);
      }
      (status === 1 ? applied : skipped).push(c);
    }
    return { applied, skipped };
  }

  /**
   * The owner's whole step: reduce its chunks, optionally clip by the global norm (every rank
   * must call this with the same clipNorm, owners or not, since all parts are awaited), apply.
   */
  async reduceAndApply(
    trial: string,
    step: number,
    rank: number,
    worldSize: number,
    apply: ApplyFn,
    opts: ReduceOptions = {},
  ): Promise<ReduceResult> {
    const reduced = await this.reduceGradients(trial, step, rank, worldSize, opts);
    let gradScale = opts.gradScale ?? 1;
    let gradNorm: number | null = null;
    if (opts.clipNorm !== undefined) {
      await this.publishGradNormPart(trial, step, rank, reduced.sumOfSquares);
      gradNorm = (await this.globalGradNorm(trial, step, worldSize, opts)) * gradScale;
      // torch.nn.utils.clip_grad_norm_'s rule: scale by max_norm / (norm + 1e-6) when above.
      if (gradNorm > opts.clipNorm) gradScale *= opts.clipNorm / (gradNorm + 1e-6);
    }
    const { applied, skipped } = await this.applyReduced(trial, reduced, apply, gradScale);
    return { applied, skipped, gradNorm, gradScale };
  }

  // ---------------------------------------------------------------- reading

  /**
   * Parameters after `step` (version step + 1), once every chunk is applied. Pass
   * `initialVersion - 1` (-1 for a fresh trial) for the initial values. Chunks are read a few
   * at a time, each group in one MULTI with the chunk versions, which must all be step + 1.
   */
  async pullParameters(trial: string, step: number, opts?: WaitOptions): Promise<Float32Array[]> {
    const place = { trial, step };
    checkStepRank(place);
    const { plan } = await this.getPlan(trial, opts);
    const keys = this.keys(trial);
    const target = step + 1;
    const dl = this.deadline(opts);
    for (;;) {
      const v = await this.currentVersion(trial);
      if (v !== null && v >= target) break;
      if (Date.now() >= dl.at) {
        const vers = await this.client.hgetall(keys.chunkVersions());
        const behind = Object.entries(vers)
          .filter(([, x]) => Number(x) < target)
          .map(([c]) => c);
        throw new ParamServerTimeoutError(
          `waiting for chunk(s) ${behind.join(', ')} to be applied`,
          place,
          dl.ms,
        );
      }
      // The step-done stream gets its entry with the version bump, so this wakes at once.
      await readStreamUntil(
        this.blocking(),
        keys.stepDone(step),
        Math.min(dl.at, Date.now() + 1000),
        () => true,
      );
    }
    const out: Float32Array[] = [];
    for (const group of chunked(plan.chunks, this.group)) {
      let tx = this.client
        .multi()
        .hmget(keys.chunkVersions(), ...group.map((c) => String(c.index)));
      for (const c of group) tx = tx.getBuffer(keys.param(c.index));
      const [vers, ...bufs] = checkExec(await tx.exec(), place);
      group.forEach((c, i) => {
        const where = { trial, step, chunk: c.index };
        const ver = Number((vers as (string | null)[])[i]);
        if (ver !== target) {
          throw new ParamServerError(
            `chunk is at version ${ver}, expected ${target} (parameters moved on: pull sooner)`,
            where,
          );
        }
        const b = bufs[i];
        if (!(b instanceof Buffer) || b.byteLength !== c.length * 4) {
          throw new ParamServerError('parameter chunk missing or wrong size', where);
        }
        out.push(bufferToF32(b));
      });
    }
    return out;
  }

  /** The current parameter and moments of one chunk (for checkpoints and tests). */
  async readChunk(trial: string, chunk: number): Promise<ChunkState> {
    const keys = this.keys(trial);
    const place = { trial, chunk };
    const [ver, pb, mb, vb] = checkExec(
      await this.client
        .multi()
        .hget(keys.chunkVersions(), String(chunk))
        .getBuffer(keys.param(chunk))
        .getBuffer(keys.m(chunk))
        .getBuffer(keys.v(chunk))
        .exec(),
      place,
    );
    if (
      ver === null ||
      !(pb instanceof Buffer) ||
      !(mb instanceof Buffer) ||
      !(vb instanceof Buffer)
    ) {
      throw new ParamServerError('chunk not found', place);
    }
    return { version: Number(ver), param: bufferToF32(pb), m: bufferToF32(mb), v: bufferToF32(vb) };
  }

  // ---------------------------------------------------------------- cleanup

  /**
   * Remove a finished step's gradients, streams and counter (they also expire after gradTtlMs).
   * Refuses before the step is fully applied, when owners may still need the gradients.
   * Returns the number of keys removed.
   */
  async cleanupStep(trial: string, step: number, worldSize: number): Promise<number> {
    const place = { trial, step };
    checkStepRank(place, worldSize);
    const v = await this.currentVersion(trial);
    if (v === null || v < step + 1) {
      throw new ParamServerError(
        `step not complete (version ${v}); not removing its gradients`,
        place,
      );
    }
    const { plan } = await this.getPlan(trial);
    const keys = this.keys(trial);
    const all = [
      keys.gradsReady(step),
      keys.normParts(step),
      keys.doneCount(step),
      keys.stepDone(step),
    ];
    for (let r = 0; r < worldSize; r++) {
      for (const c of plan.chunks) all.push(keys.grad(step, r, c.index));
    }
    let removed = 0;
    // UNLINK frees the values off the main thread; batches keep each command short.
    for (const batch of chunked(all, 256)) removed += await this.client.unlink(...batch);
    return removed;
  }

  /** Remove every key of the trial (SCAN + UNLINK). Returns the number removed. */
  async deleteTrial(trial: string): Promise<number> {
    this.plans.delete(trial);
    const pattern = this.keys(trial).pattern();
    let removed = 0;
    for (const node of scanTargets(this.client)) {
      let cursor = '0';
      do {
        const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        cursor = next;
        // UNLINK through the client: on a cluster it routes the (one-slot) keys to their owner.
        if (found.length > 0) removed += await this.client.unlink(...found);
      } while (cursor !== '0');
    }
    return removed;
  }
}
