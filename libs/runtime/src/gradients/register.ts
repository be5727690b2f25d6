import * as tf from '@tensorflow/tfjs-core';
import { TFJS_GRADIENTS_CORE_VERSION, tfjsGradConfigs } from '../generated/tfjs-gradients.js';
import { batchMatMulGradConfig } from './batch-mat-mul.js';
import { nonDifferentiableGradConfigs } from './non-differentiable.js';

/** Our gradient configs; they replace tfjs-core's for the same kernel. */
const GRADIENT_FIXES: readonly tf.GradConfig[] = [
  batchMatMulGradConfig,
  ...nonDifferentiableGradConfigs,
];

/**
 * Registers the gradients training needs and returns the kernel names registered by this call.
 *
 * Why: `@tensorflow/tfjs-core`'s Node build ships no gradients (only the `@tensorflow/tfjs` union
 * package registers them), so without this `tf.grad` fails with "gradient function not found
 * for Sum". tfjs-core's configs (bundled in src/generated) are registered for every kernel that
 * has none yet; ours (GRADIENT_FIXES) replace whatever is registered. Idempotent.
 */
export function registerGradients(): string[] {
  if (tf.version_core !== TFJS_GRADIENTS_CORE_VERSION) {
    // The bundled configs call tfjs-core's public ops; another core version may have changed
    // an op, so the bundle has to be regenerated rather than trusted.
    throw new Error(
      `@mmim/runtime bundles the gradients of tfjs-core ${TFJS_GRADIENTS_CORE_VERSION} but ` +
        `${tf.version_core} is installed: run node libs/runtime/scripts/generate-tfjs-gradients.mjs`,
    );
  }
  const registered: string[] = [];
  for (const config of GRADIENT_FIXES) {
    if (tf.getGradient(config.kernelName) !== config) {
      tf.registerGradient(config);
      registered.push(config.kernelName);
    }
  }
  for (const config of tfjsGradConfigs) {
    // tfjs declares a non-optional return but gives undefined for an unknown kernel.
    if ((tf.getGradient(config.kernelName) as tf.GradConfig | undefined) === undefined) {
      tf.registerGradient(config);
      registered.push(config.kernelName);
    }
  }
  return registered;
}
