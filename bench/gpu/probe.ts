/**
 * bench/gpu/probe.ts: what Dawn sees on this machine, for the GPU check (bench/gpu/run.sh).
 *
 *   node probe.mjs [--matmul N] [--allow-software]
 *
 * 1. For each route (vulkan, opengles) it asks a fresh Dawn instance for an adapter and prints
 *    the adapter's name, whether it is a CPU rasteriser, a few limits and its features.
 * 2. It picks a route: MMIM_WEBGPU_ROUTE when set, else the first route with a hardware adapter
 *    (with --allow-software, any adapter), and prints `chosen-route: <route>`.
 * 3. On that route it starts the project's own webgpu backend (initBackend, as training does),
 *    prints its BackendInfo, checks a 256 x 256 matMul against plain JS and times N x N matMuls
 *    (reads with await data(): synchronous reads do not work on this backend in Node).
 *
 * The last line is `probe-result: {json}`. Exit code 0 when the chosen route gave an adapter,
 * the backend started and the matMul matched; 1 otherwise.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, prepareGpuEnvironment, type BackendInfo } from '@mmim/runtime';

const ROUTES = ['vulkan', 'opengles'] as const;
type Route = (typeof ROUTES)[number];

/** The parts of Dawn's WebGPU objects printed here (this project has no DOM typings). */
interface AdapterLike {
  info: {
    vendor: string;
    architecture: string;
    device: string;
    description: string;
    isFallbackAdapter?: boolean;
  };
  limits: Record<string, number>;
  features: Iterable<string>;
}
interface GpuLike {
  requestAdapter(options?: Record<string, unknown>): Promise<AdapterLike | null>;
}
interface DawnModule {
  create(options: string[]): GpuLike;
}

interface RouteReport {
  route: Route;
  adapter: string | null;
  software: boolean | null;
  vendor?: string;
  architecture?: string;
  maxBufferSize?: number;
  maxStorageBufferBindingSize?: number;
  features?: string[];
  error?: string;
  ms: number;
}

const { values: args } = parseArgs({
  options: {
    matmul: { type: 'string', default: '2048' },
    'allow-software': { type: 'boolean', default: false },
    timeout: { type: 'string', default: '30' },
  },
});
const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader|software rasterizer/i;

function withTimeout<T>(p: Promise<T>, seconds: number, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) =>
      setTimeout(
        () => reject(new Error(`${what}: no answer in ${seconds} s`)),
        seconds * 1000,
      ).unref(),
    ),
  ]);
}

async function probeRoute(dawn: DawnModule, route: Route): Promise<RouteReport> {
  const t0 = performance.now();
  const ms = (): number => Math.round(performance.now() - t0);
  try {
    const gpu = dawn.create([`backend=${route}`]);
    // Dawn's GL route only offers WebGPU's compatibility mode.
    const request =
      route === 'opengles'
        ? { featureLevel: 'compatibility', powerPreference: 'high-performance' }
        : { powerPreference: 'high-performance' };
    const adapter = await withTimeout(gpu.requestAdapter(request), Number(args.timeout), route);
    if (adapter === null) return { route, adapter: null, software: null, ms: ms() };
    const i = adapter.info;
    const name = i.device || i.description || '(unnamed)';
    return {
      route,
      adapter: name,
      software: i.isFallbackAdapter === true || SOFTWARE.test(`${i.device} ${i.description}`),
      vendor: i.vendor,
      architecture: i.architecture,
      maxBufferSize: adapter.limits['maxBufferSize'] ?? 0,
      maxStorageBufferBindingSize: adapter.limits['maxStorageBufferBindingSize'] ?? 0,
      features: [...adapter.features].sort(),
      ms: ms(),
    };
  } catch (err) {
    return {
      route,
      adapter: null,
      software: null,
      error: (err as Error).message.split('\n')[0] ?? '',
      ms: ms(),
    };
  }
}

/** A 256 x 256 matMul on the current backend against plain JS: max |diff|. */
async function checkMatMul(): Promise<number> {
  const n = 256;
  const a = tf.randomUniform([n, n], -1, 1, 'float32', 1);
  const b = tf.randomUniform([n, n], -1, 1, 'float32', 2);
  const product = tf.matMul(a, b);
  const [x, y, ours] = await Promise.all([a.data(), b.data(), product.data()]);
  tf.dispose([a, b, product]);
  let maxAbsDiff = ours.length === n * n ? 0 : Infinity;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += (x[i * n + k] ?? NaN) * (y[k * n + j] ?? NaN);
      const d = Math.abs((ours[i * n + j] ?? NaN) - s);
      maxAbsDiff = Number.isNaN(d) ? Infinity : Math.max(maxAbsDiff, d);
    }
  }
  return maxAbsDiff;
}

/** GFLOP/s of N x N float32 matMuls: one warm-up, then 5 products and one read at the end. */
async function timeMatMul(n: number): Promise<number> {
  const a = tf.randomUniform([n, n], -1, 1, 'float32', 3);
  const b = tf.randomUniform([n, n], -1, 1, 'float32', 4);
  const warm = tf.matMul(a, b);
  await warm.data();
  warm.dispose();
  const reps = 5;
  const t0 = performance.now();
  const outs: tf.Tensor[] = [];
  for (let r = 0; r < reps; r++) outs.push(tf.matMul(a, b));
  await outs[reps - 1]?.data();
  const seconds = (performance.now() - t0) / 1000;
  tf.dispose([a, b, ...outs]);
  return (2 * n ** 3 * reps) / seconds / 1e9;
}

async function main(): Promise<number> {
  prepareGpuEnvironment();
  for (const k of [
    'MMIM_WEBGPU_ROUTE',
    'VK_DRIVER_FILES',
    'VK_ICD_FILENAMES',
    '__EGL_VENDOR_LIBRARY_FILENAMES',
    'EGL_PLATFORM',
    'LD_LIBRARY_PATH',
  ])
    console.log(`env ${k}=${process.env[k] ?? ''}`);
  console.log(`node ${process.version} ${process.platform}-${process.arch}`);

  const dawn = (await import('webgpu')) as unknown as DawnModule;
  const reports: RouteReport[] = [];
  for (const route of ROUTES) {
    const r = await probeRoute(dawn, route);
    reports.push(r);
    const what =
      r.adapter === null
        ? `no adapter${r.error !== undefined ? ` (${r.error})` : ''}`
        : `${r.adapter} [${r.software ? 'CPU rasteriser' : 'hardware'}] vendor=${r.vendor} ` +
          `arch=${r.architecture} maxBufferSize=${r.maxBufferSize} ` +
          `maxStorageBufferBindingSize=${r.maxStorageBufferBindingSize}`;
    console.log(`route ${route.padEnd(8)} ${what} (${r.ms} ms)`);
    if (r.features !== undefined) console.log(`  features: ${r.features.join(' ')}`);
  }

  const forced = process.env['MMIM_WEBGPU_ROUTE'];
  const usable = (r: RouteReport): boolean =>
    r.adapter !== null && (args['allow-software'] || r.software === false);
  const chosen: Route =
    forced === 'vulkan' || forced === 'opengles'
      ? forced
      : (reports.find(usable)?.route ?? 'vulkan');
  console.log(`chosen-route: ${chosen}`);
  process.env['MMIM_WEBGPU_ROUTE'] = chosen;

  let backend: BackendInfo | null = null;
  let matmul: { check256MaxAbsDiff: number; n: number; gflops: number } | null = null;
  let error: string | null = null;
  try {
    backend = await initBackend({ backend: 'webgpu' });
    console.log(`backend ${JSON.stringify(backend)}`);
    const diff = await checkMatMul();
    console.log(`matMul 256x256: max |diff| vs plain JS ${diff.toExponential(2)}`);
    const n = Number(args.matmul);
    const gflops = await timeMatMul(n);
    console.log(`matMul ${n}x${n} float32: ${gflops.toFixed(1)} GFLOP/s (5 products, one read)`);
    matmul = { check256MaxAbsDiff: diff, n, gflops };
  } catch (err) {
    error = (err as Error).message.split('\n')[0] ?? 'unknown error';
    console.log(`webgpu backend on ${chosen}: FAILED: ${error}`);
  }
  // Each output sums 256 products of numbers in [-1, 1]: float32 rounding stays far below 1e-3.
  const ok = backend !== null && matmul !== null && matmul.check256MaxAbsDiff <= 1e-3;
  console.log(
    `probe-result: ${JSON.stringify({
      ok,
      route: chosen,
      device: backend?.device ?? null,
      adapter: backend?.adapter ?? null,
      matmul,
      routes: reports.map(({ features: _features, ...rest }) => rest),
      error,
    })}`,
  );
  return ok ? 0 : 1;
}

// Exit explicitly: live Dawn instances can keep Node's event loop alive.
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
