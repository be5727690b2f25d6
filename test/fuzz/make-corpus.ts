/**
 * (Re)writes the fuzz corpus under test/fuzz/corpus/<target>/: small valid inputs made with the
 * project's own writers (pickle writer, serializeSafetensors) plus the library fixtures and
 * examples that users' files look like. The files are committed; run this only to refresh them:
 *   node --import tsx test/fuzz/make-corpus.ts && npx prettier --write test/fuzz/corpus
 * (prettier reformats the YAML/JSON seeds; the committed ones are in its style).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NdArray, PyTuple, serializePickle, type PyValue } from '@mmim/data';
import { serializeSafetensors } from '@mmim/runtime';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CORPUS = fileURLToPath(new URL('./corpus', import.meta.url));

function put(target: string, name: string, bytes: Uint8Array | string): void {
  const dir = path.join(CORPUS, target);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, name), bytes);
}

function copy(target: string, from: string, name = path.basename(from)): void {
  put(target, name, fs.readFileSync(path.join(ROOT, from)));
}

// --- pickle: the value shapes dataset files hold, and the fixtures of every protocol.
const f32 = (n: number, k = 1): Float32Array =>
  Float32Array.from({ length: n }, (_, i) => (i + 1) * k * 0.25);
const pickles: Record<string, PyValue> = {
  'scalars.pkl': {
    none: null,
    t: true,
    f: false,
    i: 7n,
    big: 1n << 70n,
    neg: -3n,
    x: 1.5,
    s: 'héllo',
  },
  'nested.pkl': [1n, [2n, [3n, new PyTuple([4n, 'five'])]], { k: [null] }],
  'arrays.pkl': {
    f4: NdArray.of('f4', f32(12), [3, 4]),
    f8: NdArray.of('f8', Float64Array.from([1, -2, 3.5])),
    i4: NdArray.of('i4', Int32Array.from([1, 2, 3, 4]), [2, 2]),
    i8: NdArray.of('i8', BigInt64Array.from([1n, -1n])),
    u1: NdArray.of('u1', Uint8Array.from([0, 255])),
    b1: NdArray.of('b1', Uint8Array.from([0, 1, 1])),
    empty: NdArray.of('f4', new Float32Array(0), [0, 5]),
  },
  'mmsa-like.pkl': {
    train: {
      id: ['v0$_$0', 'v0$_$1'],
      raw_text: ['good movie', 'bad'],
      text_bert: NdArray.of('f4', f32(2 * 3 * 4), [2, 3, 4]),
      audio: NdArray.of('f4', f32(2 * 3 * 2), [2, 3, 2]),
      vision: NdArray.of('f4', f32(2 * 3 * 2), [2, 3, 2]),
      audio_lengths: [3n, 2n],
      vision_lengths: [3n, 1n],
      regression_labels: NdArray.of('f4', Float32Array.from([1.2, -0.4])),
    },
  },
};
for (const [name, value] of Object.entries(pickles)) put('pickle', name, serializePickle(value));
for (const f of [
  'zoo_p2.pkl',
  'zoo_p3.pkl',
  'zoo_p4.pkl',
  'zoo_p5.pkl',
  'zoo_numpy2_p2.pkl',
  'mosi_data_noalign.pkl',
]) {
  copy('pickle', `libs/data/fixtures/${f}`);
}

// --- dataset-pickle: whole dataset files as `mmim data inspect` / `mmim train` read them.
for (const f of [
  'mmsa_unaligned_p4.pkl',
  'mmsa_unaligned_p2.pkl',
  'sims_unaligned_39.pkl',
  'mmsa_no_text_bert_p4.pkl',
]) {
  copy('dataset-pickle', `libs/data/fixtures/${f}`);
}

// --- safetensors: every dtype, metadata, scalars and empty tensors.
put(
  'safetensors',
  'dtypes.safetensors',
  serializeSafetensors(
    {
      f32: { dtype: 'F32', shape: [2, 3], data: f32(6) },
      f64: { dtype: 'F64', shape: [2], data: Float64Array.from([1, -1]) },
      f16: { dtype: 'F16', shape: [2], data: Float32Array.from([0.5, -2]) },
      bf16: { dtype: 'BF16', shape: [2], data: Float32Array.from([3, 4]) },
      i64: { dtype: 'I64', shape: [2], data: BigInt64Array.from([5n, -6n]) },
      i32: { dtype: 'I32', shape: [1], data: Int32Array.from([7]) },
      i16: { dtype: 'I16', shape: [1], data: Int16Array.from([-8]) },
      i8: { dtype: 'I8', shape: [1], data: Int8Array.from([9]) },
      u8: { dtype: 'U8', shape: [1], data: Uint8Array.from([10]) },
      b: { dtype: 'BOOL', shape: [3], data: Uint8Array.from([1, 0, 1]) },
    },
    { format: 'pt', step: '12' },
  ),
);
put(
  'safetensors',
  'scalar-empty.safetensors',
  serializeSafetensors({
    scalar: { dtype: 'F32', shape: [], data: Float32Array.from([42]) },
    empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
  }),
);
put(
  'safetensors',
  'checkpoint-like.safetensors',
  serializeSafetensors(
    {
      'text_enc.bert.embeddings.word_embeddings.weight': {
        dtype: 'F32',
        shape: [8, 4],
        data: f32(32),
      },
      'fusion_prj.linear_1.bias': { dtype: 'F32', shape: [4], data: f32(4) },
      'optim.main.m.fusion_prj.linear_1.bias': { dtype: 'F32', shape: [4], data: f32(4, -1) },
    },
    { epoch: '3', rng: '[1,2,3,4]', cursor: '{"epoch":3,"batch":0}' },
  ),
);

// --- trainer config, YAML and JSON.
const trainerConfigs: Record<string, unknown>[] = [
  { preset: 'mosi' },
  {
    dataset: 'mosei',
    batch_size: 16,
    lr_main: 0.0005,
    alpha: 0.2,
    text_encoder: { freeze: true, micro_batch: 4 },
  },
  {
    dataset: 'sims',
    d_vh: 32,
    d_ah: 16,
    dropout: null,
    cpc_layers: 2,
    add_va: true,
    num_epochs: 3,
    when: 1,
    patience: 2,
    seed: 7,
    max_batches_per_stage: 5,
    text_encoder: { trainable_layers: 2 },
  },
];
trainerConfigs.forEach((c, i) => {
  put('trainer-config-json', `config-${i}.json`, JSON.stringify(c, null, 2));
  const yaml = Object.entries(c)
    .map(([k, v]) => `${k}: ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`)
    .join('\n');
  put('trainer-config-yaml', `config-${i}.yaml`, `# trainer config ${i}\n${yaml}\n`);
});
put(
  'trainer-config-yaml',
  'anchors.yaml',
  'defaults: &d\n  freeze: false\n  micro_batch: 0\ntext_encoder:\n  <<: *d\n  trainable_layers: 1\nbatch_size: 8\n',
);

// --- sweep YAML: the examples and one of each method / scheduler.
copy('sweep-yaml', 'examples/sweeps/quickstart.yaml');
copy('sweep-yaml', 'examples/sweeps/mosi-alpha-beta.yaml');
put(
  'sweep-yaml',
  'grid-median.yaml',
  [
    'name: grid-median',
    'data: { synthetic: mosei, train: 32, valid: 16, test: 16, seed: 2 }',
    'method: grid',
    'metric: { name: test.acc2, goal: maximize }',
    'parameters:',
    '  alpha: { values: [0.1, 0.2] }',
    '  text_encoder.freeze: { values: [true, false] }',
    '  batch_size: { value: 8 }',
    'seeds: [1]',
    'early_terminate: { type: median, min_epochs: 1, warmup_trials: 2 }',
    'trainer: { num_epochs: 2 }',
    '',
  ].join('\n'),
);
put(
  'sweep-yaml',
  'random-dists.yaml',
  [
    'name: random-dists',
    'description: every distribution',
    'data: runs/data/x.pkl',
    'method: random',
    'metric: { name: valid.loss, goal: minimize }',
    'parameters:',
    '  d_vh: { distribution: int_uniform, min: 8, max: 64 }',
    '  beta: { distribution: uniform, min: 0.0, max: 0.5 }',
    '  lr_main: { distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2 }',
    '  clip: { distribution: q_uniform, min: 0.5, max: 2.0, q: 0.5 }',
    'seeds: [1, 2]',
    'run_cap: 10',
    'max_failures: 2',
    'sampler_seed: 3',
    'early_terminate: none',
    '',
  ].join('\n'),
);

// --- label CSV: the MMIM repo's files and the quoting its text column needs.
for (const f of ['MOSI-label.csv', 'MOSEI-label.csv', 'MOSI-label-missing.csv'])
  copy('label-csv', `libs/data/fixtures/${f}`);
put(
  'label-csv',
  'quoted.csv',
  '\uFEFFvideo_id,clip_id,text,label,label_T,mode\n' +
    'abc,01,"he said ""no"", then left",-1.2,0,train\n' +
    'abc,2,"two\nlines",0.4,1,valid\n' +
    'x_y,+3,plain,3.0,1,test\n',
);

console.log(`corpus written to ${path.relative(ROOT, CORPUS)}`);
