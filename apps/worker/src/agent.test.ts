/**
 * The agent's reports survive an unreachable coordinator: EpochReport / TrialEnded wait in the
 * agent until a session opens, and reports carried by a session that broke are sent again on
 * the next one (at least once). Real gRPC over loopback against a test WorkerRegistry.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createLogger } from '@mmim/runtime';
import { WorkerAgent } from './agent.js';
import { FakeCoordinator } from './trial/testing/fake-coordinator.js';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

describe('WorkerAgent reports', () => {
  const servers: FakeCoordinator[] = [];
  let agent: WorkerAgent | null = null;
  after(async () => {
    agent?.stop();
    await Promise.all(servers.map((s) => s.close()));
  });

  it('holds reports while the coordinator is away and sends them again after a broken session', async () => {
    const port = await freePort();
    agent = new WorkerAgent({
      coordinator: `127.0.0.1:${port}`,
      joinToken: 'tok',
      capabilities: { backend: 'cpu', device: 'test', workerName: 'agent-test' },
      backoff: { initialMs: 50, maxMs: 200 },
      log: createLogger('worker'),
    });
    const running = agent.run().catch((err: unknown) => err);
    agent.sendEpochReport({ trialId: 't1', rank: 0, epoch: 1, recordJson: '{"epoch":1}' });
    assert.equal(agent.pendingReports, 1);
    await assert.rejects(agent.reportMetrics([{ trialId: 't1', name: 'train/loss', value: 1 }]));

    const first = new FakeCoordinator('tok', 900);
    servers.push(first);
    await first.start(port);
    const report = await first.waitFor(() => first.epochReports[0], 10_000, 'the held report');
    assert.equal(report.report.recordJson, '{"epoch":1}');
    assert.equal(agent.pendingReports, 0);
    const received = await agent.reportMetrics([
      { trialId: 't1', step: 1, name: 'train/loss', value: 0.5 },
      { trialId: 't1', step: 2, name: 'train/loss', value: 0.25 },
    ]);
    assert.equal(received, 2);
    assert.equal(first.points[0]?.workerId, agent.workerId, 'points carry the worker id');

    agent.sendTrialEnded({ trialId: 't1', rank: 0, outcome: 'TRIAL_OUTCOME_COMPLETED' });
    await first.waitFor(() => first.ended('t1', 0), 10_000, 'TrialEnded on the first session');
    // The coordinator goes away; whatever the broken session carried comes again to the next.
    await first.close();
    const second = new FakeCoordinator('tok', 900);
    servers.push(second);
    await second.start(port);
    const again = await second.waitFor(() => second.ended('t1', 0), 10_000, 'TrialEnded again');
    assert.equal(again.outcome, 'TRIAL_OUTCOME_COMPLETED');
    assert.ok(second.epochReports.some((r) => r.report.epoch === 1));
    agent.stop();
    assert.equal(await running, undefined, 'run() ends cleanly after stop()');
  });
});
