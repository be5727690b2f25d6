// Child process for webgpu.test.ts: the main thread prepares the GPU environment, then a worker
// thread (as the worker app trains trials) initialises webgpu and computes on it.
import { Worker } from 'node:worker_threads';
import { prepareGpuEnvironment } from '../webgpu/adapter.js';

prepareGpuEnvironment();
const body = new URL('./webgpu-thread-body.fixture.ts', import.meta.url);
const tsx = import.meta.resolve('tsx/esm/api');
const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(body.href)}); });`;
const worker = new Worker(code, { eval: true });
worker.on('message', (m) => process.stdout.write(`${JSON.stringify(m)}\n`));
worker.on('error', (e) => {
  process.stdout.write(`${JSON.stringify({ error: e.message })}\n`);
  process.exitCode = 1;
});
