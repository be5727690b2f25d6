// Child process for webgpu.test.ts: forces the webgpu backend and prints what happened as one
// JSON line ({ ok, device } or { ok: false, message }), the way the CLI and the worker report it.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend.js';

try {
  const info = await initBackend({ backend: 'webgpu' });
  const sum = await tf.sum(tf.ones([64, 64])).data();
  process.stdout.write(`${JSON.stringify({ ok: true, device: info.device, sum: sum[0] })}\n`);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ ok: false, message: (err as Error).message })}\n`);
  process.exitCode = 1;
}
