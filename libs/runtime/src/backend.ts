import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { registerGradients } from './gradients/register.js';
import { registerWasmKernelFixes } from './kernels/register.js';
import { createLogger, type Logger } from './logger.js';
import type { GpuAdapterInfo } from './webgpu/adapter.js';
import { BackendUnavailableError, describeWebGpu, loadWebGpu } from './webgpu/candidate.js';

/** A backend to force, or 'auto' for the fastest one installed. */
export type BackendChoice = 'auto' | BackendName;
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

/** How a backend is being chosen: 'auto' skips what would be slow or absent; forced must work. */
export type SelectionMode = 'auto' | 'forced';

export interface InitBackendOptions {
  /** Default 'auto', or the value of `MMIM_BACKEND` when that is set. */
  backend?: BackendChoice;
  /** Default: createLogger('runtime'). */
  logger?: Logger;
}

export interface BackendInfo {
  name: BackendName;
  /** The npm package that provides it. */
  package: string;
  /** What computes, e.g. 'CPU (wasm, SIMD, 1 thread)' or 'GPU: NVIDIA H200'. */
  device: string;
  /** Threads the backend computes with. */
  threads: number;
  /** The GPU adapter (webgpu only). */
  adapter?: GpuAdapterInfo;
}

/** How to load and describe one backend; the real ones are in DEFAULT_CANDIDATES. */
export interface BackendCandidate {
  name: BackendName;
  package: string;
  /** The name the backend registers under in TF.js. */
  tfjsName: string;
  /** Whether the package can be resolved (a missing optional dependency is not an error). */
  isInstalled(): boolean;
  /**
   * Imports the package so that it registers its backend; may throw if it is broken, or throw
   * BackendUnavailableError when it has nothing to run on here ('auto' then moves on quietly).
   */
  load(mode: SelectionMode): Promise<void>;
  /** Runs once TF.js has switched to the backend. */
  describe(): Promise<Omit<BackendInfo, 'name' | 'package'>>;
  /** Runs after the switch, before initBackend returns (e.g. kernel fixes). */
  afterSwitch?(): void;
}

/** Every value `--backend` / MMIM_BACKEND takes (a Record, so a new backend must be added here). */
const CHOICE_SET: Record<BackendChoice, true> = {
  auto: true,
  'tensorflow-gpu': true,
  tensorflow: true,
  webgpu: true,
  wasm: true,
  cpu: true,
};
export const BACKEND_CHOICES = Object.keys(CHOICE_SET) as [BackendChoice, ...BackendChoice[]];
const CHOICES: readonly BackendChoice[] = BACKEND_CHOICES;
const require = createRequire(import.meta.url);

function resolvable(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

/** The GPU's name from nvidia-smi; the native backend itself does not report it. */
function gpuName(): string {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=name', '--format=csv,noheader'], {
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const names = out
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
    if (names.length > 0) return `GPU: ${names.join(', ')}`;
  } catch {
    // no nvidia-smi: fall through
  }
  return 'GPU (CUDA)';
}

function nativeCandidate(name: 'tensorflow-gpu' | 'tensorflow', pkg: string): BackendCandidate {
  return {
    name,
    package: pkg,
    tfjsName: 'tensorflow',
    isInstalled: () => resolvable(pkg),
    load: async () => {
      await import(pkg);
    },
    describe: async () => ({
      device: name === 'tensorflow-gpu' ? gpuName() : 'CPU (libtensorflow)',
      // libtensorflow sizes its thread pools to the machine.
      threads: os.availableParallelism(),
    }),
  };
}

/** Uncaught-error listeners present before the wasm module loads (see wasmCandidate). */
let listenersBeforeWasm: {
  exception: NodeJS.UncaughtExceptionListener[];
  rejection: NodeJS.UnhandledRejectionListener[];
} | null = null;

const wasmCandidate: BackendCandidate = {
  name: 'wasm',
  package: '@tensorflow/tfjs-backend-wasm',
  tfjsName: 'wasm',
  isInstalled: () => resolvable('@tensorflow/tfjs-backend-wasm'),
  load: async () => {
    listenersBeforeWasm ??= {
      exception: process.listeners('uncaughtException'),
      rejection: process.listeners('unhandledRejection'),
    };
    await import('@tensorflow/tfjs-backend-wasm');
  },
  describe: async () => {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const threads = wasm.getThreadsCount();
    const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
    return {
      device: `CPU (wasm${simd ? ', SIMD' : ''}, ${threads} thread${threads === 1 ? '' : 's'})`,
      threads,
    };
  },
  afterSwitch: () => {
    // Emscripten's Node glue adds process listeners that rethrow every uncaught error from
    // inside tfjs-backend-wasm.js, so each crash prints a 30 kB minified line before the
    // real message. Removing them restores Node's own reporting.
    if (listenersBeforeWasm !== null) {
      const { exception, rejection } = listenersBeforeWasm;
      for (const l of process.listeners('uncaughtException')) {
        if (!exception.includes(l)) process.removeListener('uncaughtException', l);
      }
      for (const l of process.listeners('unhandledRejection')) {
        if (!rejection.includes(l)) process.removeListener('unhandledRejection', l);
      }
    }
    registerWasmKernelFixes();
  },
};

const webgpuCandidate: BackendCandidate = {
  name: 'webgpu',
  package: '@tensorflow/tfjs-backend-webgpu',
  tfjsName: 'webgpu',
  isInstalled: () => resolvable('@tensorflow/tfjs-backend-webgpu') && resolvable('webgpu'),
  load: (mode) => loadWebGpu(mode),
  describe: async () => describeWebGpu(),
};

const cpuCandidate: BackendCandidate = {
  name: 'cpu',
  package: '@tensorflow/tfjs-backend-cpu',
  tfjsName: 'cpu',
  isInstalled: () => resolvable('@tensorflow/tfjs-backend-cpu'),
  load: async () => {
    await import('@tensorflow/tfjs-backend-cpu');
  },
  describe: async () => ({ device: 'CPU (JavaScript)', threads: 1 }),
};

/**
 * In 'auto' order: fastest first. webgpu comes after CUDA (tfjs-node-gpu is the established GPU
 * path where it is installed) and is taken only for a hardware adapter (never a CPU rasteriser).
 */
export const DEFAULT_CANDIDATES: readonly BackendCandidate[] = [
  nativeCandidate('tensorflow-gpu', '@tensorflow/tfjs-node-gpu'),
  webgpuCandidate,
  nativeCandidate('tensorflow', '@tensorflow/tfjs-node'),
  wasmCandidate,
  cpuCandidate,
];

/** The backend asked for: the option, else MMIM_BACKEND, else 'auto'. */
export function resolveChoice(option: BackendChoice | undefined): BackendChoice {
  const choice = option ?? process.env['MMIM_BACKEND'] ?? 'auto';
  if (!(CHOICES as readonly string[]).includes(choice)) {
    const source = option === undefined ? 'MMIM_BACKEND' : 'backend option';
    throw new Error(
      `${source} is ${JSON.stringify(choice)}; expected one of ${CHOICES.join(', ')}`,
    );
  }
  return choice as BackendChoice;
}

async function activate(candidate: BackendCandidate, mode: SelectionMode): Promise<BackendInfo> {
  await candidate.load(mode);
  if (!(await tf.setBackend(candidate.tfjsName))) {
    throw new Error(`TF.js could not initialise the '${candidate.tfjsName}' backend`);
  }
  registerGradients();
  candidate.afterSwitch?.();
  return { name: candidate.name, package: candidate.package, ...(await candidate.describe()) };
}

/**
 * Picks and initialises a backend from `candidates` (exported for tests; use initBackend).
 * 'auto' takes the first that is installed and loads; a forced one must work or this throws.
 */
export async function selectBackend(
  choice: BackendChoice,
  candidates: readonly BackendCandidate[],
  logger: Logger,
): Promise<BackendInfo> {
  if (choice !== 'auto') {
    const candidate = candidates.find((c) => c.name === choice);
    if (candidate === undefined) throw new Error(`no backend named '${choice}'`);
    if (!candidate.isInstalled()) {
      throw new Error(
        `backend '${choice}' needs the npm package ${candidate.package}, which is not installed ` +
          `(npm install ${candidate.package})`,
      );
    }
    try {
      return await activate(candidate, 'forced');
    } catch (cause) {
      const why = cause instanceof Error ? cause.message : String(cause);
      throw new Error(`backend '${choice}' (${candidate.package}) failed to load: ${why}`, {
        cause,
      });
    }
  }
  for (const candidate of candidates) {
    if (!candidate.isInstalled()) {
      logger.debug(
        { backend: candidate.name, package: candidate.package },
        'backend not installed',
      );
      continue;
    }
    try {
      return await activate(candidate, 'auto');
    } catch (err) {
      if (err instanceof BackendUnavailableError) {
        logger.debug(
          { backend: candidate.name, reason: err.message },
          'backend installed but nothing to run it on here',
        );
        continue;
      }
      // Installed but broken (e.g. a native addon built for another platform): skip it.
      logger.warn(
        { backend: candidate.name, package: candidate.package, err },
        'backend is installed but failed to load; trying the next one',
      );
    }
  }
  throw new Error(
    `no TF.js backend could be loaded (tried ${candidates.map((c) => c.package).join(', ')})`,
  );
}

let current: { choice: BackendChoice; info: BackendInfo } | null = null;
let queue: Promise<unknown> = Promise.resolve();

/**
 * Selects and initialises the TF.js backend (see docs/runtime.md): 'auto' tries
 * @tensorflow/tfjs-node-gpu, webgpu (a hardware GPU adapter only), @tensorflow/tfjs-node, wasm
 * and cpu, in that order. Also
 * registers the gradients training needs and, on wasm, our kernel fixes. Calling it again with
 * the same choice returns the same info without re-initialising; a different choice switches.
 */
export function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  const run = async (): Promise<BackendInfo> => {
    const choice = resolveChoice(options.backend);
    if (
      current !== null &&
      current.choice === choice &&
      tfjsNameOf(current.info) === tf.getBackend()
    ) {
      return current.info;
    }
    const logger = options.logger ?? createLogger('runtime');
    const info = await selectBackend(choice, DEFAULT_CANDIDATES, logger);
    // 'backend', not 'name': pino's own 'name' key is the logger's.
    logger.info(
      {
        backend: info.name,
        package: info.package,
        device: info.device,
        threads: info.threads,
        ...(info.adapter !== undefined ? { adapter: info.adapter } : {}),
        choice,
      },
      'TF.js backend ready',
    );
    current = { choice, info };
    return info;
  };
  // Calls run one after the other so that concurrent callers cannot interleave switches.
  const result = queue.then(run, run);
  queue = result.catch(() => undefined);
  return result;
}

function tfjsNameOf(info: BackendInfo): string | undefined {
  return DEFAULT_CANDIDATES.find((c) => c.name === info.name)?.tfjsName;
}
