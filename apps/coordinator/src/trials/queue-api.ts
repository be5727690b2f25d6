/**
 * What the trial manager needs of the durable trial queue. `TrialQueue` (trial-queue.ts) is the
 * real one, BullMQ on Redis; `MemoryTrialQueue` (testing/memory-queue.ts) the one unit tests use.
 * Both pass the same contract suite (testing/queue-contract.ts).
 *
 * A job per trial id: at least once, FIFO among waiting trials, de-duplicated by trial id for as
 * long as the job exists (a completed or dead-lettered trial is never queued again; a removed
 * one may be). A taken job is held by this coordinator until it is completed, failed (retried
 * while attempts remain, else dead-lettered with its error), requeued (no attempt used) or, when
 * it is still waiting, removed.
 */
import type { TrialId } from '@mmim/experiments';

export interface TrialJobData {
  trialId: TrialId;
  sweepId: string | null;
  worldSize: number;
}

/** A job's state; 'unknown' when the trial has no job. */
export type TrialJobState =
  | 'waiting'
  | 'active'
  | 'completed'
  | 'failed'
  | 'delayed'
  | 'prioritized'
  | 'waiting-children'
  | 'unknown';

export interface TrialQueueApi {
  /** Trials this coordinator has taken and not yet finished (after a restart too). */
  held(): TrialJobData[];
  /** Adds a trial unless a job with its id exists (then this is a no-op). */
  enqueue(data: TrialJobData, maxAttempts: number): Promise<void>;
  /** Takes the next waiting trial (FIFO), or null when none waits. */
  take(): Promise<TrialJobData | null>;
  /** The trial finished (completed, pruned, cancelled): its held job completes, once. */
  complete(trialId: TrialId, result: unknown): Promise<void>;
  /** The trial failed: retried (last in line) while attempts remain, else dead-lettered. */
  fail(trialId: TrialId, error: string): Promise<'retry' | 'dead'>;
  /** Puts a held trial back, first in line, without using an attempt (a lost worker). */
  requeue(trialId: TrialId): Promise<void>;
  /** Removes a waiting trial; false when it is not waiting (held, ended or unknown). */
  remove(trialId: TrialId): Promise<boolean>;
  stateOf(trialId: TrialId): Promise<TrialJobState | string>;
  /** Why a dead-lettered trial failed, as the queue kept it. */
  failedReason(trialId: TrialId): Promise<string | null>;
  /** Trials waiting to be taken. */
  depth(): Promise<number>;
}
