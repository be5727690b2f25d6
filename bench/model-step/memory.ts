import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@mmim/runtime';
import { BERT_BASE, MmimModel, TwoStageStepper, randomBatch, resolveMmimConfig } from '@mmim/model';
await initBackend({ backend: 'wasm' });
const top = Number(process.argv[2]);
const micro = Number(process.argv[3]);
const config = resolveMmimConfig({
  bert: { ...BERT_BASE, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 },
  text_encoder: { trainable_layers: top },
  d_vin: 20,
  d_ain: 5,
});
const model = MmimModel.initialize(config, 1);
const mem = (l: string) =>
  console.log(
    l,
    (tf.memory().numBytes / 2 ** 20).toFixed(0),
    'MB tensors',
    (
      (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length /
      2 ** 20
    ).toFixed(0),
    'MB heap',
    (process.memoryUsage().rss / 2 ** 20).toFixed(0),
    'MB rss',
  );
mem('model');
const stepper = new TwoStageStepper(model, {
  lr_main: 1e-3,
  lr_bert: 5e-5,
  lr_mmilb: 1e-3,
  weight_decay_main: 1e-4,
  weight_decay_bert: 1e-4,
  weight_decay_club: 1e-4,
  clip: 1,
  alpha: 0.1,
  beta: 0.1,
  contrast: true,
  seed: 1,
  zeroGradToNone: false,
  textMicroBatch: micro,
});
stepper.beginStage(1);
for (let i = 0; i < 2; i++) {
  const t = performance.now();
  stepper.step(
    randomBatch(config, { size: 32, textLength: 50, visualSteps: 500, acousticSteps: 375 }, i),
  );
  mem(`step ${i} ${(performance.now() - t).toFixed(0)} ms`);
}
