/**
 * Zero gradients for comparison and logical ops.
 *
 * Upstream gap: tfjs-core 4.22 registers no gradient for Greater, Less, Equal, LogicalAnd, ...,
 * so any loss that builds a mask from the variables it differentiates, e.g.
 * `tf.where(tf.greater(x, 0), a, b)`, throws "gradient function not found for Greater" during
 * backprop, even though the mask's own gradient is irrelevant (TensorFlow declares these ops
 * NotDifferentiable). Their gradient here is zero for every input.
 */
import { zeros, type GradConfig, type Tensor } from '@tensorflow/tfjs-core';

/** Each kernel with the names of its inputs. */
const KERNELS: [string, string[]][] = [
  ['Greater', ['a', 'b']],
  ['GreaterEqual', ['a', 'b']],
  ['Less', ['a', 'b']],
  ['LessEqual', ['a', 'b']],
  ['Equal', ['a', 'b']],
  ['NotEqual', ['a', 'b']],
  ['LogicalAnd', ['a', 'b']],
  ['LogicalOr', ['a', 'b']],
  ['LogicalXor', ['a', 'b']],
  ['LogicalNot', ['x']],
  ['IsNan', ['x']],
  ['IsInf', ['x']],
  ['IsFinite', ['x']],
  // Reductions of such masks (e.g. "every entry finite").
  ['All', ['x']],
  ['Any', ['x']],
];

export const nonDifferentiableGradConfigs: readonly GradConfig[] = KERNELS.map(
  ([kernelName, inputs]) => ({
    kernelName,
    inputsToSave: inputs,
    gradFunc: (_dy, saved) =>
      Object.fromEntries(
        // float32 whatever the input's dtype: tfjs requires every gradient to be float32.
        inputs.map((name, i) => [name, (): Tensor => zeros((saved[i] as Tensor).shape, 'float32')]),
      ),
  }),
);
