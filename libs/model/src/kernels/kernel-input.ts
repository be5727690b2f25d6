import type { TensorInfo } from '@tensorflow/tfjs-core';

/** A kernel's input `name`, or an error naming the kernel and the input (tfjs types all optional). */
export function kernelInput(inputs: object, name: string, kernel: string): TensorInfo {
  const t = (inputs as Record<string, TensorInfo | undefined>)[name];
  if (t === undefined) throw new Error(`${kernel}: missing input '${name}'`);
  return t;
}
