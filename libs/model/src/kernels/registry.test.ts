/**
 * The backend table's guards: an unsupported backend and a missing kernel are refused when a
 * stepper is built (naming the backend and the kernel), and MMIM_MODEL_OPS is validated.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@mmim/runtime';
import { resolveMmimConfig } from '../config.js';
import { MmimModel } from '../model.js';
import { REFERENCE_OPTIMIZATION, TwoStageStepper } from '../stepper.js';
import { assertModelKernels, backendProfile, parseModelOps } from './registry.js';
import { SPD_LOGDET } from './spd-logdet.js';

describe('backend profiles', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });
  after(() => {
    delete process.env['MMIM_MODEL_OPS'];
  });

  it('refuses a backend MMIM has no profile for, listing the supported ones', () => {
    assert.throws(
      () => assertModelKernels('webgl'),
      /MMIM does not run on the TF\.js backend 'webgl': supported are wasm, cpu, webgpu, tensorflow/,
    );
  });

  it('refuses, when a stepper is built, a backend that lacks a kernel its profile names', () => {
    const model = MmimModel.initialize(
      resolveMmimConfig({
        bert: {
          vocab_size: 50,
          hidden_size: 8,
          num_hidden_layers: 1,
          num_attention_heads: 2,
          intermediate_size: 16,
          max_position_embeddings: 16,
        },
        d_vin: 3,
        d_ain: 2,
      }),
      1,
    );
    const config = tf.getKernel(SPD_LOGDET, 'cpu');
    tf.unregisterKernel(SPD_LOGDET, 'cpu');
    try {
      assert.throws(
        () => new TwoStageStepper(model, REFERENCE_OPTIMIZATION),
        /the TF\.js backend 'cpu' has no MmimSpdLogdet kernel \(needed by MMIM's logdet\)/,
      );
    } finally {
      tf.registerKernel(config);
      model.dispose();
    }
    // With the kernel back, the same construction works.
    assert.equal(assertModelKernels('cpu').logdet, 'kernel');
  });

  it('reads MMIM_MODEL_OPS and names a bad key or value', () => {
    assert.deepEqual(parseModelOps('lstm=composite, optimizer=device'), {
      lstm: 'composite',
      optimizer: 'device',
    });
    assert.throws(
      () => parseModelOps('lstm=wgsl'),
      /MMIM_MODEL_OPS: lstm=wgsl .*lstm=kernel\|composite/,
    );
    assert.throws(() => parseModelOps('adam=device'), /unknown key 'adam'/);
    process.env['MMIM_MODEL_OPS'] = 'logdet=composite';
    assert.equal(backendProfile('webgpu').logdet, 'composite');
    assert.equal(backendProfile('webgpu').lstm, 'kernel');
    delete process.env['MMIM_MODEL_OPS'];
    assert.equal(backendProfile('webgpu').logdet, 'kernel');
  });
});
