/**
 * Test helper: a worker that speaks the real gRPC protocol but trains nothing. It registers,
 * opens its Session, heartbeats (idle, or training the trial it was assigned), and the test
 * decides when a trial ends (`end`). Used where a test needs workers that stay busy or free up
 * on cue (admission and backfill), which real workers cannot do on a 2-core machine.
 */
import * as grpc from '@grpc/grpc-js';
import {
  JOIN_TOKEN_METADATA_KEY,
  loadProtocol,
  type AssignTrial__Output,
  type CoordinatorMessage__Output,
  type WorkerRegistryClient,
} from '@mmim/protocol';

export interface ScriptedWorker {
  readonly id: string;
  readonly name: string;
  /** Every message the coordinator sent, in order. */
  readonly inbox: CoordinatorMessage__Output[];
  /** The trial it was assigned and not yet told to stop or ended, or null. */
  current(): AssignTrial__Output | null;
  /** The current assignment, or the next one when it has none. */
  assigned(timeoutMs?: number): Promise<AssignTrial__Output>;
  /** Reports the current trial ended (COMPLETED by default) and goes idle. */
  end(outcome?: 'TRIAL_OUTCOME_COMPLETED' | 'TRIAL_OUTCOME_FAILED'): void;
  /** Stops heartbeating and closes its stream: the coordinator loses it after a lease. */
  vanish(): void;
  close(): void;
}

export async function scriptedWorker(
  address: string,
  joinToken: string,
  name: string,
  beatMs = 200,
): Promise<ScriptedWorker> {
  const { WorkerRegistry } = loadProtocol().mmim.v1;
  const client: WorkerRegistryClient = new WorkerRegistry(
    address,
    grpc.credentials.createInsecure(),
  );
  const md = new grpc.Metadata();
  md.set(JOIN_TOKEN_METADATA_KEY, joinToken);
  const reg = await new Promise<{ workerId: string; sessionKey: string }>((resolve, reject) =>
    client.Register(
      { capabilities: { backend: 'cpu', device: 'test', workerName: name, version: '0' } },
      md,
      (err, res) => (err || !res ? reject(err ?? new Error('no answer')) : resolve(res)),
    ),
  );
  const call = client.Session(md);
  const inbox: CoordinatorMessage__Output[] = [];
  let current: AssignTrial__Output | null = null;
  const waiters: ((a: AssignTrial__Output) => void)[] = [];
  const write = (kind: Record<string, unknown>): void => {
    call.write({ workerId: reg.workerId, sessionKey: reg.sessionKey, ...kind });
  };
  const beat = (): void =>
    write({
      heartbeat:
        current === null
          ? { state: 'WORKER_STATE_IDLE' }
          : { state: 'WORKER_STATE_TRAINING', trialId: current.trialId, rank: current.rank },
    });
  call.on('data', (m: CoordinatorMessage__Output) => {
    inbox.push(m);
    if (m.assignTrial) {
      current = m.assignTrial;
      for (const w of waiters.splice(0)) w(m.assignTrial);
      beat();
    } else if (m.stop && current?.trialId === m.stop.trialId) {
      current = null;
      beat();
    }
  });
  call.on('error', () => undefined);
  beat();
  const timer = setInterval(beat, beatMs);
  timer.unref();
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(timer);
    call.end();
    client.close();
  };
  return {
    id: reg.workerId,
    name,
    inbox,
    current: () => current,
    assigned: (timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        if (current !== null) {
          resolve(current);
          return;
        }
        const t = setTimeout(
          () => reject(new Error(`worker ${name} was assigned nothing in ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push((a) => {
          clearTimeout(t);
          resolve(a);
        });
      }),
    end: (outcome = 'TRIAL_OUTCOME_COMPLETED') => {
      const a = current;
      if (a === null) throw new Error(`worker ${name} runs no trial`);
      write({
        trialEnded: { trialId: a.trialId, rank: a.rank, outcome, error: '', resultJson: '{}' },
      });
      current = null;
      beat();
    },
    vanish: close,
    close,
  };
}
