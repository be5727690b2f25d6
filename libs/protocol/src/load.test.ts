import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadProtocol } from './load.js';
import { MAX_MESSAGE_BYTES, SERVER_CHANNEL_OPTIONS, UNARY_DEADLINES_MS } from './constants.js';

describe('loadProtocol', () => {
  it('loads the WorkerRegistry service with its three methods', () => {
    const { mmim, packageDefinition } = loadProtocol();
    const service = mmim.v1.WorkerRegistry.service;
    assert.deepEqual(Object.keys(service).sort(), ['Register', 'ReportMetrics', 'Session']);
    assert.equal(service.Session.requestStream, true);
    assert.equal(service.Session.responseStream, true);
    assert.equal(service.ReportMetrics.requestStream, true);
    assert.equal(service.ReportMetrics.responseStream, false);
    assert.ok(packageDefinition['mmim.v1.WorkerRegistry']);
  });

  it('round-trips a command with the oneof kind and enum names the generated types promise', () => {
    const { Session } = loadProtocol().mmim.v1.WorkerRegistry.service;
    const bytes = Session.responseSerialize({
      assignTrial: { trialId: 't1', rank: 1, worldSize: 2, configJson: '{}' },
    });
    const back = Session.responseDeserialize(bytes);
    assert.equal(back.kind, 'assignTrial');
    assert.deepEqual(back.assignTrial, { trialId: 't1', rank: 1, worldSize: 2, configJson: '{}' });
    const hb = Session.requestDeserialize(
      Session.requestSerialize({
        workerId: 'w',
        heartbeat: { state: 'WORKER_STATE_IDLE', step: 7 },
      }),
    );
    assert.equal(hb.heartbeat?.state, 'WORKER_STATE_IDLE');
    assert.equal(hb.heartbeat?.step, 7);
  });

  it('sets explicit limits and deadlines', () => {
    assert.equal(SERVER_CHANNEL_OPTIONS['grpc.max_receive_message_length'], MAX_MESSAGE_BYTES);
    assert.ok(UNARY_DEADLINES_MS.register > 0);
  });
});
