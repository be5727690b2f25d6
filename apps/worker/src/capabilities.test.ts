import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadProtocol } from '@mmim/protocol';
import type { BackendInfo } from '@mmim/runtime';
import { workerCapabilities } from './capabilities.js';

const FACTS = { workerName: 'node-1-gpu0', version: '0.1.0', memoryBytes: 2 ** 36 };

/** What the coordinator decodes from a Register request carrying these capabilities. */
function overTheWire(backend: BackendInfo) {
  const { Register } = loadProtocol().mmim.v1.WorkerRegistry.service;
  const request = { capabilities: workerCapabilities(backend, FACTS) };
  return Register.requestDeserialize(Register.requestSerialize(request)).capabilities;
}

describe('workerCapabilities', () => {
  it('sends the webgpu adapter, every field and limit, as the coordinator decodes it', () => {
    const caps = overTheWire({
      name: 'webgpu',
      package: '@tensorflow/tfjs-backend-webgpu',
      device: 'CPU rasteriser (WebGPU/OpenGL ES): llvmpipe-llvm-15-0-6-256-bits-',
      threads: 1,
      adapter: {
        vendor: '',
        architecture: '',
        device: 'llvmpipe-llvm-15-0-6-256-bits-',
        description: 'OpenGL version OpenGL ES 3.2 Mesa 22.3.6',
        route: 'opengles',
        software: true,
        limits: {
          maxBufferSize: 2 ** 31,
          maxStorageBufferBindingSize: 2 ** 27,
          maxComputeWorkgroupStorageSize: 16384,
          maxComputeInvocationsPerWorkgroup: 256,
        },
      },
    });
    assert.equal(caps?.backend, 'webgpu');
    assert.equal(caps?.workerName, 'node-1-gpu0');
    assert.equal(caps?.memoryBytes, 2 ** 36);
    assert.deepEqual(caps?.adapter, {
      vendor: '',
      architecture: '',
      device: 'llvmpipe-llvm-15-0-6-256-bits-',
      description: 'OpenGL version OpenGL ES 3.2 Mesa 22.3.6',
      route: 'opengles',
      software: true,
      limits: {
        maxBufferSize: 2 ** 31,
        maxStorageBufferBindingSize: 2 ** 27,
        maxComputeWorkgroupStorageSize: 16384,
        maxComputeInvocationsPerWorkgroup: 256,
      },
    });
  });

  it('sends no adapter for a backend without one', () => {
    const plain: BackendInfo = {
      name: 'wasm',
      package: '@tensorflow/tfjs-backend-wasm',
      device: 'CPU (wasm, SIMD, 1 thread)',
      threads: 1,
    };
    assert.equal('adapter' in workerCapabilities(plain, FACTS), false);
    const caps = overTheWire(plain);
    assert.equal(caps?.backend, 'wasm');
    assert.equal(caps?.adapter, null);
  });
});
