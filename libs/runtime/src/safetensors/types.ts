/** The element types this implementation reads and writes (safetensors names). */
export type SafetensorsDtype =
  'F32' | 'F64' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/**
 * A tensor's elements. F16 and BF16 are held as Float32Array (converted on read, rounded to
 * nearest-even on write), I64 as BigInt64Array (see `int64ToInt32`), BOOL as Uint8Array of 0/1.
 */
export type SafetensorsData =
  Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  /** Row-major ('C') shape; [] for a scalar. */
  shape: number[];
  data: SafetensorsData;
}

export interface SafetensorsFile {
  tensors: Map<string, SafetensorsTensor>;
  /** The header's `__metadata__` ({} when absent). */
  metadata: Record<string, string>;
}

/** Thrown for any malformed file or input, naming the file (or '<bytes>') and the tensor. */
export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
  constructor(
    readonly source: string,
    readonly tensor: string | undefined,
    detail: string,
  ) {
    super(
      `${source}: ${tensor === undefined ? '' : `tensor ${JSON.stringify(tensor)}: `}${detail}`,
    );
  }
}
