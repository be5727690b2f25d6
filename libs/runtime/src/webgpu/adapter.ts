/**
 * A WebGPU adapter in Node through Dawn (npm `webgpu`), for TF.js's webgpu backend.
 *
 * Routes, in the order tried (MMIM_WEBGPU_ROUTE=vulkan|opengles picks one):
 * - `vulkan`: how Dawn reaches a real GPU on Linux (NVIDIA through its Vulkan ICD);
 * - `opengles`: Dawn's OpenGL ES backend through EGL, in WebGPU's compatibility mode. On a
 *   machine without a GPU this is Mesa's llvmpipe, a CPU rasteriser (~1 GFLOP/s): it runs every
 *   kernel and is how CI tests the GPU path, but it is never picked automatically.
 *
 * Traps handled here (../shared/FINDINGS.md): llvmpipe needs `EGL_PLATFORM=surfaceless` in the
 * REAL environment (a worker thread's `process.env` is a copy that native code never sees, so the
 * main thread must set it before threads start: `prepareGpuEnvironment`); the GL route needs
 * `featureLevel: 'compatibility'`.
 */
import { isMainThread } from 'node:worker_threads';
import { findSystemLibraries, missingPieces } from './system-libraries.js';

export type WebGpuRoute = 'vulkan' | 'opengles';
export const WEBGPU_ROUTES: readonly WebGpuRoute[] = ['vulkan', 'opengles'];

/** What the dashboard and the logs show of a GPU adapter. */
export interface GpuAdapterInfo {
  vendor: string;
  architecture: string;
  /** The adapter's name, e.g. 'NVIDIA H200' or 'llvmpipe (LLVM 15.0.6, 256 bits)'. */
  device: string;
  description: string;
  /** How Dawn reaches it. */
  route: WebGpuRoute;
  /** A CPU rasteriser (llvmpipe, lavapipe, SwiftShader): correct, but no faster than a CPU. */
  software: boolean;
  limits: {
    maxBufferSize: number;
    maxStorageBufferBindingSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
  };
}

/** The parts of WebGPU's API this module touches (no DOM typings in this project). */
export interface GpuAdapterLike {
  readonly info: {
    vendor: string;
    architecture: string;
    device: string;
    description: string;
    isFallbackAdapter?: boolean;
  };
  readonly limits: Record<string, number>;
  readonly features: { has(name: string): boolean };
  requestDevice(descriptor?: unknown): Promise<unknown>;
}
interface GpuLike {
  requestAdapter(options?: Record<string, unknown>): Promise<GpuAdapterLike | null>;
}
interface DawnModule {
  create(options: string[]): GpuLike;
  globals: Record<string, unknown>;
}

export interface OpenedAdapter {
  adapter: GpuAdapterLike;
  info: GpuAdapterInfo;
}

/** The adapter refused or absent: why, in one line (the route's missing pieces when known). */
export class NoGpuAdapterError extends Error {
  override readonly name = 'NoGpuAdapterError';
}

const SOFTWARE_NAMES = /llvmpipe|lavapipe|softpipe|swiftshader|software rasterizer/i;

export function isSoftwareAdapter(info: {
  device: string;
  description: string;
  isFallbackAdapter?: boolean;
}): boolean {
  return (
    info.isFallbackAdapter === true || SOFTWARE_NAMES.test(`${info.device} ${info.description}`)
  );
}

/**
 * Sets what native GPU libraries read from the process environment. Call it on the main thread
 * before starting worker threads that may use the webgpu backend.
 */
export function prepareGpuEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  // Without a display, Mesa's EGL must be told to use its surfaceless platform.
  if (env['EGL_PLATFORM'] === undefined && env['DISPLAY'] === undefined) {
    env['EGL_PLATFORM'] = 'surfaceless';
  }
}

/** The Dawn instances we created: they must outlive every device made from them. */
const instances: GpuLike[] = [];
let dawn: DawnModule | null = null;

async function loadDawn(): Promise<DawnModule> {
  if (dawn !== null) return dawn;
  const mod = (await import('webgpu')) as unknown as DawnModule;
  // GPUBufferUsage, GPUMapMode...: tfjs-backend-webgpu reads them as globals.
  for (const [k, v] of Object.entries(mod.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  dawn = mod;
  return mod;
}

function routesToTry(env: NodeJS.ProcessEnv): WebGpuRoute[] {
  const forced = env['MMIM_WEBGPU_ROUTE'];
  if (forced === undefined || forced === '' || forced === 'auto') {
    // Without a GPU device node Vulkan can only offer a CPU rasteriser (lavapipe), which Dawn
    // refuses after printing native warnings: go straight to the OpenGL ES route.
    const gpuNodes = findSystemLibraries(env).gpuDeviceNodes.length > 0;
    return gpuNodes ? [...WEBGPU_ROUTES] : ['opengles'];
  }
  if ((WEBGPU_ROUTES as readonly string[]).includes(forced)) return [forced as WebGpuRoute];
  throw new Error(
    `MMIM_WEBGPU_ROUTE is ${JSON.stringify(forced)}; expected one of auto, ${WEBGPU_ROUTES.join(', ')}`,
  );
}

function describeAdapter(adapter: GpuAdapterLike, route: WebGpuRoute): GpuAdapterInfo {
  const i = adapter.info;
  const l = adapter.limits;
  return {
    vendor: i.vendor,
    architecture: i.architecture,
    device: i.device,
    description: i.description,
    route,
    software: isSoftwareAdapter(i),
    limits: {
      maxBufferSize: l['maxBufferSize'] ?? 0,
      maxStorageBufferBindingSize: l['maxStorageBufferBindingSize'] ?? 0,
      maxComputeWorkgroupStorageSize: l['maxComputeWorkgroupStorageSize'] ?? 0,
      maxComputeInvocationsPerWorkgroup: l['maxComputeInvocationsPerWorkgroup'] ?? 0,
    },
  };
}

function setNavigatorGpu(gpu: GpuLike): void {
  const nav = (globalThis as { navigator?: Record<string, unknown> }).navigator;
  if (nav !== undefined) {
    // Node >= 21 has a navigator whose properties are getters.
    Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
  } else {
    Object.defineProperty(globalThis, 'navigator', {
      value: { gpu },
      configurable: true,
      writable: true,
    });
  }
}

export interface OpenAdapterOptions {
  /** Refuse CPU rasterisers ('auto' backend selection does). */
  requireHardware: boolean;
  env?: NodeJS.ProcessEnv;
}

/**
 * The first adapter a route gives (routesToTry order). Throws NoGpuAdapterError with one line
 * naming what is missing when none qualifies.
 */
export async function openGpuAdapter(options: OpenAdapterOptions): Promise<OpenedAdapter> {
  const env = options.env ?? process.env;
  if (isMainThread) prepareGpuEnvironment(env);
  const routes = routesToTry(env);
  const mod = await loadDawn();
  const refused: string[] = [];
  for (const route of routes) {
    const gpu = mod.create([`backend=${route}`]);
    const request =
      route === 'opengles'
        ? { featureLevel: 'compatibility', powerPreference: 'high-performance' }
        : { powerPreference: 'high-performance' };
    let adapter: GpuAdapterLike | null = null;
    try {
      adapter = await gpu.requestAdapter(request);
    } catch (err) {
      refused.push(`${route}: ${(err as Error).message.split('\n')[0] ?? ''}`);
      continue;
    }
    if (adapter === null) {
      refused.push(`${route}: no adapter`);
      continue;
    }
    const info = describeAdapter(adapter, route);
    if (options.requireHardware && info.software) {
      refused.push(`${route}: only a CPU rasteriser (${info.device})`);
      continue;
    }
    instances.push(gpu);
    // tfjs-backend-webgpu's constructor checks navigator.gpu (set after its import, so that
    // importing it registered no backend of its own).
    setNavigatorGpu(gpu);
    return { adapter, info };
  }
  throw new NoGpuAdapterError(explainNoAdapter(routes, refused, env));
}

function explainNoAdapter(
  routes: readonly WebGpuRoute[],
  refused: readonly string[],
  env: NodeJS.ProcessEnv,
): string {
  const missing = missingPieces(findSystemLibraries(env));
  const parts = routes.map((route) => {
    const pieces = missing[route];
    const said = refused.find((r) => r.startsWith(`${route}:`)) ?? `${route}: no adapter`;
    return pieces.length > 0 ? `${route}: ${pieces.join(', ')}` : said;
  });
  if (
    routes.includes('opengles') &&
    missing.opengles.length === 0 &&
    env['EGL_PLATFORM'] === undefined &&
    !isMainThread
  ) {
    parts.push('EGL_PLATFORM is not set in the process environment (set EGL_PLATFORM=surfaceless)');
  }
  return `no WebGPU adapter (${parts.join('; ')})`;
}
