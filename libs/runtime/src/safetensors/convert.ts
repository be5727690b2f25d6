import { SafetensorsError } from './types.js';

/**
 * Converts I64 data (e.g. token ids, labels saved by PyTorch) to Int32Array for TF.js,
 * throwing if a value does not fit in int32 rather than wrapping it.
 */
export function int64ToInt32(data: BigInt64Array, name = '<int64>'): Int32Array {
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < -2147483648n || v > 2147483647n) {
      throw new SafetensorsError(
        '<int64ToInt32>',
        name,
        `element ${i} = ${v} does not fit in int32`,
      );
    }
    out[i] = Number(v);
  }
  return out;
}
