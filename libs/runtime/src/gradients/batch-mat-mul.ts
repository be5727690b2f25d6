/**
 * Gradient of `BatchMatMul` that handles broadcast batch dimensions.
 *
 * Upstream bug: tfjs-core 4.22's BatchMatMul gradient returns the gradient at the broadcast
 * (output) batch shape, so `tf.grad` through matMul([3, 5, 7], [7, 4]) or
 * matMul([5, 7], [3, 7, 4]) throws "The gradient of input 'b' has shape '3,7,4', which does not
 * match the shape of the input '7,4'" on every backend. Here the gradient is summed over the
 * broadcast dimensions, as TensorFlow does.
 *
 * For the common dense-layer case (a [..., m, k] times a batch-less weight b [k, n]) the weight
 * gradient is one 2-D matMul over the flattened batch instead of a batched matMul plus a sum.
 */
import {
  BatchMatMul,
  broadcast_util,
  matMul,
  reshape,
  sum,
  util,
  type BatchMatMulAttrs,
  type GradConfig,
  type NamedAttrMap,
  type Tensor,
} from '@tensorflow/tfjs-core';

/** Sums `grad` over the batch dimensions that were broadcast to reach it from `shape`. */
function reduceToShape(grad: Tensor, shape: number[]): Tensor {
  if (util.arraysEqual(grad.shape, shape)) return grad;
  const gradBatch = grad.shape.slice(0, -2);
  const axes = broadcast_util.getReductionAxes(shape.slice(0, -2), gradBatch);
  // Leading axes that `shape` lacks entirely are broadcast too.
  const missing = gradBatch.length - (shape.length - 2);
  const all = [...new Set([...Array.from({ length: missing }, (_, i) => i), ...axes])];
  return reshape(all.length > 0 ? sum(grad, all, true) : grad, shape);
}

/** [..., r, c] -> [prod(...) * r, c]. */
function flattenBatch(t: Tensor): Tensor {
  const cols = t.shape[t.rank - 1]!;
  return reshape(t, [t.size / cols, cols]);
}

function gradFunc(dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) {
  const g = dy as Tensor;
  const [a, b] = saved as [Tensor, Tensor];
  const { transposeA, transposeB } = attrs as unknown as BatchMatMulAttrs;

  const gradA = (): Tensor => {
    const raw = !transposeA
      ? matMul(g, b, false, !transposeB)
      : transposeB
        ? matMul(b, g, true, true)
        : matMul(b, g, false, true);
    return reduceToShape(raw, a.shape);
  };
  const gradB = (): Tensor => {
    if (b.rank === 2 && a.rank > 2 && !transposeA) {
      // Dense layer: one [k, batch*m] x [batch*m, n] product instead of batch products + sum.
      return transposeB
        ? matMul(flattenBatch(g), flattenBatch(a), true, false)
        : matMul(flattenBatch(a), flattenBatch(g), true, false);
    }
    const raw = !transposeB
      ? matMul(a, g, !transposeA, false)
      : transposeA
        ? matMul(g, a, true, true)
        : matMul(g, a, true, false);
    return reduceToShape(raw, b.shape);
  };
  return { a: gradA, b: gradB };
}

export const batchMatMulGradConfig: GradConfig = {
  kernelName: BatchMatMul,
  inputsToSave: ['a', 'b'],
  gradFunc,
};
