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

  it('carries a GPU adapter in the capabilities, and null when a worker sends none', () => {
    const { Register } = loadProtocol().mmim.v1.WorkerRegistry.service;
    const adapter = {
      vendor: 'nvidia',
      architecture: 'hopper',
      device: 'NVIDIA H200',
      description: 'NVIDIA: 565.57.01',
      route: 'vulkan',
      software: false,
      limits: {
        // Above 2^32: uint64 must not wrap.
        maxBufferSize: 2 ** 40,
        maxStorageBufferBindingSize: 2 ** 32 - 4,
        maxComputeWorkgroupStorageSize: 49152,
        maxComputeInvocationsPerWorkgroup: 1024,
      },
    };
    const back = Register.requestDeserialize(
      Register.requestSerialize({
        capabilities: { backend: 'webgpu', device: 'GPU: NVIDIA H200', workerName: 'w', adapter },
      }),
    );
    assert.deepEqual(back.capabilities?.adapter, adapter);
    const plain = Register.requestDeserialize(
      Register.requestSerialize({ capabilities: { backend: 'wasm', workerName: 'w' } }),
    );
    assert.equal(plain.capabilities?.adapter, null);
    // A software adapter with no vendor keeps its empty strings and its flag.
    const soft = Register.requestDeserialize(
      Register.requestSerialize({
        capabilities: {
          backend: 'webgpu',
          workerName: 'w',
          adapter: { device: 'llvmpipe', route: 'opengles', software: true },
        },
      }),
    );
    assert.equal(soft.capabilities?.adapter?.vendor, '');
    assert.equal(soft.capabilities?.adapter?.software, true);
    assert.equal(soft.capabilities?.adapter?.limits, null);
  });

  it('sets explicit limits and deadlines', () => {
    assert.equal(SERVER_CHANNEL_OPTIONS['grpc.max_receive_message_length'], MAX_MESSAGE_BYTES);
    assert.ok(UNARY_DEADLINES_MS.register > 0);
  });
});
