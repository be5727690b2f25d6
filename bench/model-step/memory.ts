import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@mmim/runtime';
import {
  BERT_BASE,
  MmimModel,
  REFERENCE_OPTIMIZATION,
  TwoStageStepper,
  randomBatch,
  resolveMmimConfig,
} from '@mmim/model';
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
  ...REFERENCE_OPTIMIZATION,
  seed: 1,
  textMicroBatch: micro,
});
stepper.beginStage(1);
for (let i = 0; i < 2; i++) {
  const t = performance.now();
  await stepper.step(
    randomBatch(config, { size: 32, textLength: 50, visualSteps: 500, acousticSteps: 375 }, i),
  );
  mem(`step ${i} ${(performance.now() - t).toFixed(0)} ms`);
}
