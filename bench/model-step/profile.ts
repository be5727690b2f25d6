/**
 * Where one stage-1 step's time goes (tiny BERT, MOSI shapes): forward only, forward+backward,
 * the host side (gradient reads, clipping, Adam, writes back). Run with
 * `node --import tsx bench/model-step/profile.ts`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@mmim/runtime';
import {
  MmimModel,
  TINY_BERT,
  REFERENCE_OPTIMIZATION,
  TwoStageStepper,
  randomBatch,
  resolveMmimConfig,
} from '@mmim/model';

await initBackend({ backend: 'auto' });
const config = resolveMmimConfig({
  bert: { ...TINY_BERT, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 },
  d_vin: 20,
  d_ain: 5,
});
const model = MmimModel.initialize(config, 1);
const batch = randomBatch(
  config,
  { size: 32, textLength: 50, visualSteps: 500, acousticSteps: 375 },
  1,
);
const time = (label: string, f: () => void, n = 3): void => {
  f();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) f();
  console.log(`${label.padEnd(28)} ${((performance.now() - t0) / n).toFixed(1)} ms`);
};
time('forward (all terms)', () =>
  tf.tidy(
    () => void model.forward(batch, { dropout: null, withProjections: true }).preds.dataSync(),
  ),
);
time('text (BERT) forward', () => tf.tidy(() => void model.text(batch, null, null).dataSync()));
time('forward+backward', () => {
  const { value, grads } = tf.variableGrads(
    () => model.forward(batch, { dropout: null, withProjections: true }).nce,
    model.trainableVariables(),
  );
  value.dispose();
  for (const g of Object.values(grads)) g.dataSync();
  tf.dispose(grads);
});
time('BERT forward+backward', () => {
  const { value, grads } = tf.variableGrads(
    () => tf.sum(model.text(batch, null, null)) as tf.Scalar,
    model.trainableVariables().filter((v) => v.name.includes('bert')),
  );
  value.dispose();
  tf.dispose(grads);
});
const stepper = new TwoStageStepper(model, { ...REFERENCE_OPTIMIZATION, seed: 1 });
stepper.beginStage(1);
// The step is asynchronous (it awaits its one read): timed separately.
await stepper.step(batch);
const stepStart = performance.now();
for (let i = 0; i < 3; i++) await stepper.step(batch);
console.log(
  `${'full stepper step'.padEnd(28)} ${((performance.now() - stepStart) / 3).toFixed(1)} ms`,
);
