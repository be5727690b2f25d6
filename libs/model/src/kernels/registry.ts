/**
 * How each TF.js backend runs the parts of MMIM's step that standard ops do not cover, in ONE
 * table (BACKEND_PROFILES):
 *
 * - `lstm`, `logdet`: 'kernel' = our registered kernel for that backend (JS loops on cpu/wasm,
 *   WGSL on webgpu); 'composite' = a composition of standard ops (kernels/composite.ts), for
 *   backends whose kernels we cannot write in JS (tfjs-node's libtensorflow).
 * - `optimizer`: 'host' = Adam and the clipping norm on Float32Arrays (fastest where tensors are
 *   host memory anyway: wasm, cpu); 'device' = the same rules as tensor ops on the backend, so a
 *   GPU step never reads gradients or parameters back.
 * - `dropoutMask`: 'kernel' = the counter-based masks drawn on the device from per-row keys;
 *   'host' = drawn in JS and uploaded (the same bits either way).
 *
 * A backend missing from the table, or lacking a kernel its profile names, is refused by
 * `assertModelKernels` when a stepper is built: at the start of a trial, not mid-step.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ADAM_UPDATE, webgpuAdamUpdateKernel } from './adam-update.js';
import { DROPOUT_MASK, webgpuDropoutMaskKernel } from './dropout-mask.js';
import { hostLstmKernels } from './lstm-host.js';
import { LSTM_BACKWARD, LSTM_FORWARD } from './lstm-layout.js';
import { webgpuLstmKernels } from './lstm-webgpu.js';
import { HOST_BACKEND_NAMES } from './host-io.js';
import { hostSpdLogdetKernel, SPD_LOGDET, webgpuSpdLogdetKernel } from './spd-logdet.js';

export type OpImplementation = 'kernel' | 'composite';
export type OptimizerResidence = 'host' | 'device';

export interface BackendProfile {
  lstm: OpImplementation;
  logdet: OpImplementation;
  optimizer: OptimizerResidence;
  /** Dropout masks drawn by a kernel on the device, or in JS and uploaded ('host'). */
  dropoutMask: 'kernel' | 'host';
  /** The device optimiser's update: one kernel per output, or ~20 tf ops per parameter. */
  adamUpdate: OpImplementation;
}

/** TF.js backend name -> how MMIM runs on it. */
export const BACKEND_PROFILES: Readonly<Record<string, BackendProfile>> = {
  // (adamUpdate applies only where the optimiser is 'device': on the CPU backends, when
  // MMIM_MODEL_OPS moves it there.)
  wasm: {
    lstm: 'kernel',
    logdet: 'kernel',
    optimizer: 'host',
    dropoutMask: 'host',
    adamUpdate: 'composite',
  },
  cpu: {
    lstm: 'kernel',
    logdet: 'kernel',
    optimizer: 'host',
    dropoutMask: 'host',
    adamUpdate: 'composite',
  },
  webgpu: {
    lstm: 'kernel',
    logdet: 'kernel',
    optimizer: 'device',
    dropoutMask: 'kernel',
    adamUpdate: 'kernel',
  },
  // tfjs-node and tfjs-node-gpu both register as 'tensorflow'.
  tensorflow: {
    lstm: 'composite',
    logdet: 'composite',
    optimizer: 'device',
    dropoutMask: 'host',
    adamUpdate: 'composite',
  },
};

/** Kernels a profile's 'kernel' entries need, per op. */
const KERNELS_OF: Record<'lstm' | 'logdet' | 'dropoutMask' | 'adamUpdate', readonly string[]> = {
  lstm: [LSTM_FORWARD, LSTM_BACKWARD],
  logdet: [SPD_LOGDET],
  dropoutMask: [DROPOUT_MASK],
  adamUpdate: [ADAM_UPDATE],
};

let override: Partial<BackendProfile> | null = null;

/**
 * Test hook: run the current backend with other implementations (e.g. the composite LSTM or the
 * device optimiser on cpu). Pass null to restore the table. Applies to steppers built afterwards.
 */
export function setBackendProfileOverride(profile: Partial<BackendProfile> | null): void {
  override = profile;
}

let registered = false;

/** Registers our kernels on every backend that has an implementation, and their gradients. */
export function registerModelKernels(): void {
  if (registered) return;
  registered = true;
  const configs: tf.KernelConfig[] = [
    ...HOST_BACKEND_NAMES.flatMap((b) => [...hostLstmKernels(b), hostSpdLogdetKernel(b)]),
    ...webgpuLstmKernels(),
    webgpuSpdLogdetKernel(),
    webgpuDropoutMaskKernel(),
    webgpuAdamUpdateKernel(),
  ];
  for (const config of configs) {
    if (tf.getKernel(config.kernelName, config.backendName) !== undefined)
      tf.unregisterKernel(config.kernelName, config.backendName);
    tf.registerKernel(config);
  }
  tf.registerGradient({
    kernelName: LSTM_FORWARD,
    inputsToSave: ['whh', 'lengths'],
    outputsToSave: [false, true],
    gradFunc: (dys, saved) => {
      const [whh, lengths, savedAct] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
      const dy = (Array.isArray(dys) ? dys[0] : dys) as tf.Tensor;
      const [dxp, dwhh] = tf.engine().runKernel(LSTM_BACKWARD, {
        dy,
        whh,
        saved: savedAct,
        lengths,
      }) as tf.Tensor[];
      return {
        xp: () => dxp as tf.Tensor,
        whh: () => dwhh as tf.Tensor,
        lengths: () => tf.zerosLike(lengths),
      };
    },
  });
  tf.registerGradient({
    kernelName: SPD_LOGDET,
    outputsToSave: [true],
    gradFunc: (dy, saved) => {
      const [packed] = saved as [tf.Tensor1D];
      const n = Math.round(Math.sqrt((packed.shape[0] ?? 2) - 2));
      const dLogdet = tf.slice(dy as tf.Tensor1D, [n * n], [1]);
      return { a: () => tf.mul(dLogdet, tf.reshape(tf.slice(packed, [0], [n * n]), [n, n])) };
    },
  });
}

const PROFILE_VALUES: { [K in keyof BackendProfile]: readonly BackendProfile[K][] } = {
  lstm: ['kernel', 'composite'],
  logdet: ['kernel', 'composite'],
  optimizer: ['host', 'device'],
  dropoutMask: ['kernel', 'host'],
  adamUpdate: ['kernel', 'composite'],
};

/**
 * `MMIM_MODEL_OPS`, e.g. `lstm=composite,logdet=composite`: an operator's override of the table
 * for the current backend (to rule a kernel in or out on a new GPU or driver, or to run the GPU
 * backends' optimiser on a CPU). Every key and value is checked; a typo is an error, not ignored.
 */
export function parseModelOps(text: string): Partial<BackendProfile> {
  const out: Partial<Record<keyof BackendProfile, string>> = {};
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0)) {
    const [key = '', value = ''] = part.split('=').map((x) => x.trim());
    const allowed = (PROFILE_VALUES as Record<string, readonly string[]>)[key];
    if (allowed === undefined) {
      throw new Error(
        `MMIM_MODEL_OPS: unknown key '${key}' in '${text}' (keys: ${Object.keys(PROFILE_VALUES).join(', ')})`,
      );
    }
    if (!allowed.includes(value)) {
      throw new Error(
        `MMIM_MODEL_OPS: ${key}=${value} in '${text}': expected ${key}=${allowed.join('|')}`,
      );
    }
    out[key as keyof BackendProfile] = value;
  }
  return out as Partial<BackendProfile>;
}

/**
 * The profile of `backend` (default: the current one), with MMIM_MODEL_OPS and the test
 * override applied.
 */
export function backendProfile(backend: string = tf.getBackend()): BackendProfile {
  const base = BACKEND_PROFILES[backend];
  if (base === undefined) {
    throw new Error(
      `MMIM does not run on the TF.js backend '${backend}': supported are ${Object.keys(BACKEND_PROFILES).join(', ')}`,
    );
  }
  const fromEnv = parseModelOps(process.env['MMIM_MODEL_OPS'] ?? '');
  return { ...base, ...fromEnv, ...(override ?? {}) };
}

/**
 * The current backend's profile, after checking that every kernel it names is registered: a
 * model op without a kernel fails here, at the start, with the backend and kernel named.
 */
export function assertModelKernels(backend: string = tf.getBackend()): BackendProfile {
  registerModelKernels();
  const profile = backendProfile(backend);
  for (const op of ['lstm', 'logdet', 'dropoutMask', 'adamUpdate'] as const) {
    if (op === 'adamUpdate' && profile.optimizer !== 'device') continue;
    if (profile[op] !== 'kernel') continue;
    for (const kernel of KERNELS_OF[op]) {
      if (tf.getKernel(kernel, backend) === undefined) {
        throw new Error(
          `the TF.js backend '${backend}' has no ${kernel} kernel (needed by MMIM's ${op}); ` +
            `register one or give the backend a 'composite' ${op} in BACKEND_PROFILES`,
        );
      }
    }
  }
  return profile;
}
