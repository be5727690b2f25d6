/**
 * The durable trial queue: BullMQ on the coordinator's Redis, consumed by hand.
 *
 * Why BullMQ: it already is the atomic (Lua) at-least-once job queue with what we need: jobs
 * de-duplicated by id (a trial id is enqueued once however often it is re-submitted), attempts
 * with a failed set that keeps the error (our dead letter), locks with renewal and stalled-job
 * recovery, and it survives Redis restarts. We consume it manually (`getNextJob`) rather than
 * with a processor function because a trial is not processed by this process: the coordinator
 * only takes the next trial when it can place it on a gang of idle workers, and the job stays
 * active (its lock renewed here) while the workers train.
 *
 * The lock token is persisted in Redis, so a restarted coordinator holds the locks of the jobs
 * its previous incarnation took: it can complete the trials that kept running on the workers
 * while it was down, instead of waiting for BullMQ's stalled check to re-queue them.
 */
import { randomUUID } from 'node:crypto';
import { Job, Queue, Worker, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '@mmim/runtime';
import type { TrialId } from '@mmim/experiments';
import type { TrialJobData, TrialQueueApi } from './queue-api.js';

export type { TrialJobData } from './queue-api.js';

export interface TrialQueueOptions {
  /** Connection options for BullMQ's own connections (it needs maxRetriesPerRequest: null). */
  connection: ConnectionOptions;
  /** A plain client for the token key. */
  redis: Redis;
  /** Key prefix of the queue's keys (BullMQ adds `:<queue>:...`). */
  prefix?: string;
  queueName?: string;
  /** How long a taken trial stays locked without renewal; renewed every lockMs / 3. */
  lockMs?: number;
  /**
   * Where the queue's connection errors go (a Redis restart, a reset connection), with their
   * stack. BullMQ prints an 'error' nobody listens to on the console as a multi-line trace, so
   * the queue always listens; without a logger it drops them (the connection's owner logs them).
   */
  log?: Logger;
}

const QUEUE_NAME = 'trials';

export class TrialQueue implements TrialQueueApi {
  readonly queue: Queue<TrialJobData>;
  readonly #worker: Worker<TrialJobData>;
  readonly #redis: Redis;
  readonly #tokenKey: string;
  readonly #lockMs: number;
  /** Jobs this coordinator holds (active), by trial id. */
  readonly #held = new Map<TrialId, Job<TrialJobData>>();
  #token = '';
  #timer: NodeJS.Timeout | null = null;

  private constructor(options: TrialQueueOptions) {
    const prefix = options.prefix ?? 'mmim:queue';
    const name = options.queueName ?? QUEUE_NAME;
    this.#lockMs = options.lockMs ?? 30_000;
    this.queue = new Queue<TrialJobData>(name, { connection: options.connection, prefix });
    this.#worker = new Worker<TrialJobData>(name, null, {
      connection: options.connection,
      prefix,
      autorun: false,
      lockDuration: this.#lockMs,
      // A trial's job is only "stalled" when a coordinator died holding it; that is no reason
      // to fail the trial, however often it happens.
      maxStalledCount: 1_000_000,
    });
    this.#redis = options.redis;
    this.#tokenKey = `${prefix}:${name}:coordinator-token`;
    const log = options.log?.child({ component: 'queue' });
    const onError = (err: Error): void => log?.warn({ err }, 'trial queue connection error');
    this.queue.on('error', onError);
    this.#worker.on('error', onError);
  }

  static async open(options: TrialQueueOptions): Promise<TrialQueue> {
    const q = new TrialQueue(options);
    const fresh = `coordinator-${randomUUID()}`;
    await q.#redis.set(q.#tokenKey, fresh, 'NX');
    q.#token = (await q.#redis.get(q.#tokenKey)) ?? fresh;
    // Adopt what a previous incarnation held: those jobs are still active under our token.
    for (const job of await q.queue.getActive()) {
      const full = await Job.fromId<TrialJobData>(q.queue, String(job.id));
      if (full) q.#held.set(full.data.trialId, full);
    }
    q.#timer = setInterval(() => void q.#renew(), Math.max(100, Math.floor(q.#lockMs / 3)));
    q.#timer.unref();
    // Jobs whose lock did expire (coordinator down longer than lockMs) go back to waiting.
    await q.#worker.startStalledCheckTimer();
    return q;
  }

  /** Trials this coordinator has taken and not yet finished. */
  held(): TrialJobData[] {
    return [...this.#held.values()].map((j) => j.data);
  }

  /** Adds a trial unless a job with its id exists (then this is a no-op). */
  async enqueue(data: TrialJobData, maxAttempts: number): Promise<void> {
    await this.queue.add('trial', data, {
      jobId: data.trialId,
      attempts: maxAttempts,
      removeOnComplete: false,
      removeOnFail: false,
    });
  }

  /** Takes the next waiting trial (FIFO), or null when none waits. */
  async take(): Promise<TrialJobData | null> {
    const job = (await this.#worker.getNextJob(this.#token, { block: false })) as
      Job<TrialJobData> | undefined;
    if (!job) return null;
    this.#held.set(job.data.trialId, job);
    return job.data;
  }

  /** The trial finished (completed, pruned or cancelled): its job completes, once. */
  async complete(trialId: TrialId, result: unknown): Promise<void> {
    const job = this.#held.get(trialId);
    if (!job) return;
    this.#held.delete(trialId);
    await job.moveToCompleted(result, this.#token, false);
  }

  /**
   * The trial failed: BullMQ retries it (back to waiting) until its attempts are used up, then
   * keeps it in the failed set with the error. Returns which happened.
   */
  async fail(trialId: TrialId, error: string): Promise<'retry' | 'dead'> {
    const job = this.#held.get(trialId);
    if (!job) return 'dead';
    this.#held.delete(trialId);
    await job.moveToFailed(new Error(error), this.#token, false);
    const state = await this.queue.getJobState(String(job.id));
    return state === 'failed' ? 'dead' : 'retry';
  }

  /**
   * Puts a taken trial back without counting an attempt (a lost worker). BullMQ's moveToWait
   * puts it at the head of the queue: it resumes before trials that never started (checked by
   * the queue contract). A retry after `fail` waits at the end instead.
   */
  async requeue(trialId: TrialId): Promise<void> {
    const job = this.#held.get(trialId);
    if (!job) return;
    this.#held.delete(trialId);
    await job.moveToWait(this.#token);
  }

  /** Removes a waiting trial (sweep paused or cancelled); false if it is not waiting. */
  async remove(trialId: TrialId): Promise<boolean> {
    const state = await this.queue.getJobState(trialId);
    if (state !== 'waiting' && state !== 'delayed' && state !== 'prioritized') return false;
    return (await this.queue.remove(trialId)) === 1;
  }

  /** The job's state in BullMQ ('unknown' when there is no job for the trial). */
  async stateOf(trialId: TrialId): Promise<string> {
    return this.queue.getJobState(trialId);
  }

  /** Why a dead-lettered trial failed, as BullMQ kept it. */
  async failedReason(trialId: TrialId): Promise<string | null> {
    const job = await Job.fromId<TrialJobData>(this.queue, trialId);
    return job?.failedReason ?? null;
  }

  async depth(): Promise<number> {
    const c = await this.queue.getJobCounts('waiting', 'delayed', 'prioritized');
    return (c.waiting ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0);
  }

  async #renew(): Promise<void> {
    for (const job of this.#held.values()) {
      try {
        await job.extendLock(this.#token, this.#lockMs);
      } catch {
        // Redis briefly away: the next round renews; a lock lost for good shows as a stalled
        // job that BullMQ re-queues, and the trial record tells us it already ran.
      }
    }
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#worker.close(true);
    await this.queue.close();
  }
}
