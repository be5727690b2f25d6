/**
 * A TrialQueueApi in memory, for unit tests of the trial manager: the BullMQ queue's rules
 * (queue-api.ts) without Redis, checked by the same contract suite (queue-contract.ts). Its
 * state is a separate object, so a test can "restart the coordinator" by opening a second
 * queue on the first one's state: what was held stays held.
 */
import type { TrialId } from '@mmim/experiments';
import type { TrialJobData, TrialJobState, TrialQueueApi } from '../trials/queue-api.js';

interface MemoryJob {
  data: TrialJobData;
  state: 'waiting' | 'active' | 'completed' | 'failed';
  attempts: number;
  attemptsMade: number;
  failedReason: string | null;
}

/** What survives a restart: the jobs and the waiting order (Redis's part of the queue). */
export class MemoryQueueState {
  readonly jobs = new Map<TrialId, MemoryJob>();
  /** Waiting trial ids, next first. */
  readonly waiting: TrialId[] = [];
}

export class MemoryTrialQueue implements TrialQueueApi {
  constructor(readonly state: MemoryQueueState = new MemoryQueueState()) {}

  held(): TrialJobData[] {
    return [...this.state.jobs.values()]
      .filter((j) => j.state === 'active')
      .map((j) => ({ ...j.data }));
  }

  async enqueue(data: TrialJobData, maxAttempts: number): Promise<void> {
    if (this.state.jobs.has(data.trialId)) return;
    this.state.jobs.set(data.trialId, {
      data: { ...data },
      state: 'waiting',
      attempts: maxAttempts,
      attemptsMade: 0,
      failedReason: null,
    });
    this.state.waiting.push(data.trialId);
  }

  async take(): Promise<TrialJobData | null> {
    const id = this.state.waiting.shift();
    if (id === undefined) return null;
    const job = this.#job(id);
    job.state = 'active';
    return { ...job.data };
  }

  async complete(trialId: TrialId, _result: unknown): Promise<void> {
    const job = this.state.jobs.get(trialId);
    if (job?.state !== 'active') return;
    job.state = 'completed';
  }

  async fail(trialId: TrialId, error: string): Promise<'retry' | 'dead'> {
    const job = this.state.jobs.get(trialId);
    if (job?.state !== 'active') return 'dead';
    job.attemptsMade++;
    if (job.attemptsMade >= job.attempts) {
      job.state = 'failed';
      job.failedReason = error;
      return 'dead';
    }
    job.state = 'waiting';
    this.state.waiting.push(trialId);
    return 'retry';
  }

  async requeue(trialId: TrialId): Promise<void> {
    const job = this.state.jobs.get(trialId);
    if (job?.state !== 'active') return;
    job.state = 'waiting';
    this.state.waiting.unshift(trialId);
  }

  async remove(trialId: TrialId): Promise<boolean> {
    if (this.state.jobs.get(trialId)?.state !== 'waiting') return false;
    this.state.jobs.delete(trialId);
    this.state.waiting.splice(this.state.waiting.indexOf(trialId), 1);
    return true;
  }

  async stateOf(trialId: TrialId): Promise<TrialJobState> {
    return this.state.jobs.get(trialId)?.state ?? 'unknown';
  }

  async failedReason(trialId: TrialId): Promise<string | null> {
    return this.state.jobs.get(trialId)?.failedReason ?? null;
  }

  async depth(): Promise<number> {
    return this.state.waiting.length;
  }

  async close(): Promise<void> {}

  #job(id: TrialId): MemoryJob {
    const job = this.state.jobs.get(id);
    if (job === undefined) throw new Error(`queue state lost job ${id}`);
    return job;
  }
}
