/**
 * The live state of a data-parallel trial in Redis: the current parameters and Adam moments,
 * chunk by chunk (each chunk written by the rank that owns it, after every optimiser step that
 * changed it), and one head naming the version of every chunk plus the trainer's cursor. A rank
 * group re-formed after a loss reads the head and resumes there, mid-epoch.
 *
 * Consistency: chunk keys are immutable (attempt, chunk, version); an owner keeps a chunk's
 * current and previous version and deletes older ones, and the head is written (one script)
 * only after every rank has read the step's chunks, so the head always names complete keys.
 * Fencing: each attempt writes under its own key names, and the head's commit script refuses an
 * attempt older than the fence the newest attempt raised, so a rank cut off by a partition whose
 * link comes back can never move the new group's state.
 */
import { scanTargets, type RedisClient } from './client.js';
import { ParamServerError } from './errors.js';
import { DEFAULT_PREFIX, TrialKeys } from './keys.js';
import { withScripts, type ScriptCommands } from './scripts.js';

export type LiveKind = 'p' | 'm' | 'v';

export interface LiveHead {
  attempt: number;
  /** Identifies the chunk plan (parameter names, sizes, chunk bytes): a resume checks it. */
  plan: string;
  /** The version of each chunk's current keys, by chunk index. */
  chunkVersions: number[];
  /** The trainer's cursor (opaque to this store). */
  cursor: unknown;
}

/**
 * A head commit refused: the attempt is older than the trial's newest (a stale, partitioned
 * rank), or the fence is gone (the Redis lost its data: the chunks are gone with it).
 */
export class StaleLiveAttemptError extends ParamServerError {
  constructor(trial: string, attempt: number, newest: number | null) {
    super(
      newest === null
        ? `attempt ${attempt}: the live state's fence is gone (its Redis restarted without persistence?): live state not written`
        : `attempt ${attempt} is stale (attempt ${newest} started): live state not written`,
      { trial },
    );
    this.name = 'StaleLiveAttemptError';
  }
}

type Pipeline = ReturnType<RedisClient['pipeline']>;

export class LiveStateStore {
  readonly keys: TrialKeys;
  private readonly client: RedisClient & ScriptCommands;

  constructor(
    client: RedisClient,
    readonly trial: string,
    readonly attempt: number,
    opts: { prefix?: string } = {},
  ) {
    if (!(Number.isInteger(attempt) && attempt >= 1))
      throw new Error(`live state: attempt must be an integer >= 1, got ${attempt}`);
    this.client = withScripts(client);
    this.keys = new TrialKeys(trial, opts.prefix ?? DEFAULT_PREFIX);
  }

  /**
   * Raise the fence to this attempt (before this attempt reads or commits anything); throws when
   * a newer attempt already started.
   */
  async fence(): Promise<void> {
    const newest = await this.client.psLiveFence(this.keys.liveFence(), this.attempt);
    if (newest > this.attempt) throw new StaleLiveAttemptError(this.trial, this.attempt, newest);
  }

  async readHead(): Promise<LiveHead | null> {
    const text = await this.client.get(this.keys.liveHead());
    if (text === null) return null;
    try {
      return JSON.parse(text) as LiveHead;
    } catch (err) {
      throw new ParamServerError(`live head is not JSON (${(err as Error).message})`, {
        trial: this.trial,
      });
    }
  }

  /** Adds this attempt's chunk write to `p`. */
  writeChunk(p: Pipeline, chunk: number, version: number, kind: LiveKind, bytes: Buffer): void {
    p.set(this.keys.liveChunk(this.attempt, chunk, version, kind), bytes);
  }

  /** Adds the removal of one of this attempt's chunk versions (all kinds) to `p`. */
  dropChunk(p: Pipeline, chunk: number, version: number): void {
    for (const kind of ['p', 'm', 'v'] as const)
      p.unlink(this.keys.liveChunk(this.attempt, chunk, version, kind));
  }

  /**
   * Reads chunk values of `attempt` (this one's or the head's), a few per pipeline: a missing
   * one is an error naming it (the head promised it).
   */
  async readChunks(
    attempt: number,
    wanted: readonly { chunk: number; version: number; kind: LiveKind }[],
    perPipeline = 8,
  ): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for (let i = 0; i < wanted.length; i += perPipeline) {
      const group = wanted.slice(i, i + perPipeline);
      const p = this.client.pipeline();
      for (const w of group) p.getBuffer(this.keys.liveChunk(attempt, w.chunk, w.version, w.kind));
      const got = (await p.exec()) ?? [];
      group.forEach((w, k) => {
        const [err, b] = got[k] ?? [null, null];
        if (err) throw err;
        if (!Buffer.isBuffer(b))
          throw new ParamServerError(
            `live state: attempt ${attempt}, version ${w.version}, kind ${w.kind} is missing`,
            { trial: this.trial, chunk: w.chunk },
          );
        out.push(b);
      });
    }
    return out;
  }

  /**
   * Write the head: only the attempt that raised the fence may (StaleLiveAttemptError when a
   * newer attempt raised it, or when the fence is gone with the Redis's data).
   */
  async commit(head: Omit<LiveHead, 'attempt'>): Promise<void> {
    const ok = await this.client.psLiveCommit(
      this.keys.liveHead(),
      this.keys.liveFence(),
      this.attempt,
      JSON.stringify({ attempt: this.attempt, ...head }),
    );
    if (ok === -1) throw new StaleLiveAttemptError(this.trial, this.attempt, null);
    if (ok !== 1) {
      const newest = Number((await this.client.get(this.keys.liveFence())) ?? 0);
      throw new StaleLiveAttemptError(this.trial, this.attempt, newest);
    }
  }

  /** Remove other attempts' chunks (older groups' copies), e.g. after this attempt committed. */
  async dropOtherAttempts(): Promise<number> {
    const mine = `${this.keys.base}live:a${this.attempt}:`;
    return this.unlinkMatching(this.keys.livePattern('*'), (k) => !k.startsWith(mine));
  }

  /**
   * Remove the live state (the trial ended: its checkpoints hold what it produced). The fence
   * stays (a few bytes), so a stale attempt still cannot commit a head afterwards.
   */
  async deleteAll(): Promise<number> {
    const n = await this.unlinkMatching(this.keys.livePattern('*'), () => true);
    return n + (await this.client.unlink(this.keys.liveHead()));
  }

  private async unlinkMatching(pattern: string, keep: (key: string) => boolean): Promise<number> {
    let removed = 0;
    for (const node of scanTargets(this.client)) {
      let cursor = '0';
      do {
        const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        cursor = next;
        const drop = found.filter(keep);
        if (drop.length > 0) removed += await this.client.unlink(...drop);
      } while (cursor !== '0');
    }
    return removed;
  }
}
