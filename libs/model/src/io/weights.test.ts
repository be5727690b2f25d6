/**
 * Weights on disk: a PyTorch MMIM state dict (the parity fixture is one) loads with its dims
 * inferred from shapes; ours round-trips with the config in the metadata and keeps PyTorch's
 * names and shapes; HF BERT folders map onto text_enc.bertmodel.*; bad files fail with the file
 * and tensor named.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  initBackend,
  readSafetensorsFile,
  writeSafetensorsFileAtomic,
  type SafetensorsTensor,
} from '@mmim/runtime';
import { MmimModel } from '../model.js';
import { resolveMmimConfig } from '../config.js';
import { randomBatch } from '../synthetic.js';
import { loadMmimWeights, saveMmimWeights } from './weights.js';
import { loadHfBert } from './hf-bert.js';
import { FIXTURE_DIR, parityConfig } from '../testing/parity-fixtures.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-weights-'));
const pytorchFile = path.join(FIXTURE_DIR, 'init.safetensors');

describe('weights I/O', () => {
  before(async () => {
    await initBackend({ backend: process.env.MMIM_TEST_BACKEND === 'cpu' ? 'cpu' : 'wasm' });
  });

  it('loads a PyTorch MMIM state dict, inferring every dimension from the shapes', async () => {
    const loaded = await loadMmimWeights(pytorchFile, { num_attention_heads: 4 });
    assert.equal(loaded.configFromMetadata, false);
    const expected = parityConfig(await readSafetensorsFile(pytorchFile)).model;
    const { bert: inferredBert, ...inferred } = loaded.config;
    const { bert: expectedBert, ...rest } = expected;
    for (const key of [
      'vocab_size',
      'hidden_size',
      'num_hidden_layers',
      'num_attention_heads',
      'intermediate_size',
      'max_position_embeddings',
      'type_vocab_size',
    ] as const) {
      assert.equal(inferredBert[key], expectedBert[key], `bert.${key}`);
    }
    for (const key of [
      'd_vin',
      'd_ain',
      'd_vh',
      'd_ah',
      'd_vout',
      'd_aout',
      'd_prjh',
      'cpc_layers',
      'add_va',
    ] as const) {
      assert.equal(inferred[key], rest[key], key);
    }
    const model = new MmimModel(loaded.config, loaded.state);
    assert.equal(model.host.size, loaded.state.size);
    model.dispose();
  });

  it('says what is missing when the head count cannot be inferred', async () => {
    await assert.rejects(loadMmimWeights(pytorchFile), /num_attention_heads.*hidden size 32/);
  });

  it('saves our weights with PyTorch names and shapes and the config, and loads them back exactly', async () => {
    const reference = await readSafetensorsFile(pytorchFile);
    const config = parityConfig(reference).model;
    const model = MmimModel.initialize(config, 77);
    const file = path.join(tmp, 'ours.safetensors');
    await saveMmimWeights(file, model, { note: 'test' });
    const written = await readSafetensorsFile(file);
    // Same names, shapes and dtype as the PyTorch state dict: PyTorch's load_state_dict takes it.
    assert.deepEqual([...written.tensors.keys()].sort(), [...reference.tensors.keys()].sort());
    for (const [name, t] of reference.tensors) {
      assert.deepEqual(written.tensors.get(name)?.shape, t.shape, name);
      assert.equal(written.tensors.get(name)?.dtype, 'F32', name);
    }
    const loaded = await loadMmimWeights(file);
    assert.equal(loaded.configFromMetadata, true);
    assert.deepEqual(loaded.config, config);
    assert.equal(loaded.metadata.note, 'test');
    const again = new MmimModel(loaded.config, loaded.state);
    const batch = randomBatch(
      config,
      { size: 6, textLength: 10, visualSteps: 9, acousticSteps: 7 },
      3,
    );
    assert.deepEqual(await again.predict(batch), await model.predict(batch));
    [model, again].forEach((m) => m.dispose());
  });

  it('names the file when it is torn, and the parameter when a shape is wrong', async () => {
    const good = path.join(tmp, 'good.safetensors');
    const model = MmimModel.initialize(
      parityConfig(await readSafetensorsFile(pytorchFile)).model,
      1,
    );
    await saveMmimWeights(good, model);
    const torn = path.join(tmp, 'torn.safetensors');
    const bytes = fs.readFileSync(good);
    fs.writeFileSync(torn, bytes.subarray(0, bytes.length - 100));
    await assert.rejects(loadMmimWeights(torn), (err: Error) =>
      err.message.includes('torn.safetensors'),
    );
    const state = model.stateDict();
    state.set('fusion_prj.linear_3.bias', new Float32Array(3));
    assert.throws(() => model.loadStateDict(state), /fusion_prj\.linear_3\.bias/);
    model.dispose();
  });

  it('reads a HuggingFace BERT folder (BertForPreTraining names, gamma/beta, heads ignored)', async () => {
    const dir = path.join(tmp, 'bert');
    fs.mkdirSync(dir);
    const H = 8;
    const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'the', 'movie', 'good'];
    fs.writeFileSync(path.join(dir, 'vocab.txt'), `${vocab.join('\n')}\n`);
    fs.writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({
        architectures: ['BertForPreTraining'],
        model_type: 'bert',
        vocab_size: vocab.length,
        hidden_size: H,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        intermediate_size: 16,
        max_position_embeddings: 16,
        type_vocab_size: 2,
        hidden_act: 'gelu',
      }),
    );
    const t = (shape: number[]): SafetensorsTensor => ({
      dtype: 'F32',
      shape,
      data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5),
    });
    const tensors = new Map<string, SafetensorsTensor>([
      ['bert.embeddings.word_embeddings.weight', t([vocab.length, H])],
      ['bert.embeddings.LayerNorm.gamma', t([H])],
      ['bert.embeddings.LayerNorm.beta', t([H])],
      ['bert.encoder.layer.0.attention.self.query.weight', t([H, H])],
      ['bert.pooler.dense.weight', t([H, H])],
      ['cls.predictions.bias', t([vocab.length])],
    ]);
    await writeSafetensorsFileAtomic(path.join(dir, 'model.safetensors'), tensors);
    const bert = await loadHfBert(dir);
    assert.equal(bert.config.hidden_size, H);
    assert.equal(bert.vocabSize, vocab.length);
    assert.deepEqual([...bert.state.keys()].sort(), [
      'text_enc.bertmodel.embeddings.LayerNorm.bias',
      'text_enc.bertmodel.embeddings.LayerNorm.weight',
      'text_enc.bertmodel.embeddings.word_embeddings.weight',
      'text_enc.bertmodel.encoder.layer.0.attention.self.query.weight',
      'text_enc.bertmodel.pooler.dense.weight',
    ]);
    const config = resolveMmimConfig({ bert: bert.config, d_vin: 3, d_ain: 2 });
    assert.equal(config.bert.num_attention_heads, 2);
  });

  it('refuses a BERT folder without safetensors weights, and says how to convert', async () => {
    const dir = path.join(tmp, 'bin-only');
    fs.mkdirSync(dir);
    fs.writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({
        vocab_size: 1,
        hidden_size: 8,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        intermediate_size: 8,
        max_position_embeddings: 8,
      }),
    );
    fs.writeFileSync(path.join(dir, 'vocab.txt'), '[PAD]\n');
    fs.writeFileSync(path.join(dir, 'pytorch_model.bin'), 'not read');
    await assert.rejects(loadHfBert(dir), /no model\.safetensors.*pytorch_model\.bin found/);
  });
});
