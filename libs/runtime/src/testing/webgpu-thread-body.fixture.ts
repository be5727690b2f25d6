// Worker thread of webgpu-thread.fixture.ts.
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend.js';

const info = await initBackend({ backend: 'webgpu' });
const s = await tf.sum(tf.matMul(tf.ones([32, 32]), tf.ones([32, 32]))).data();
parentPort?.postMessage({ backend: info.name, sum: s[0] });
