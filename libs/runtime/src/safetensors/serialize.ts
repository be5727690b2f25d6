import { DTYPES, float32ToBfloat16, float32ToFloat16, holdsDtype } from './dtypes.js';
import { SafetensorsError, type SafetensorsTensor } from './types.js';

/** Tensors to write, by name. */
export type SafetensorsInput = Map<string, SafetensorsTensor> | Record<string, SafetensorsTensor>;

/** A serialisation laid out but not yet written: the header, then each tensor's bytes. */
export interface SafetensorsPlan {
  /** The 8-byte length and the padded JSON header. */
  head: Uint8Array;
  /** Tensors in file order with their byte length. */
  tensors: { name: string; tensor: SafetensorsTensor; byteLength: number }[];
  totalBytes: number;
}

const SOURCE = '<serialize>';

/** Byte order of UTF-8 strings, which is how the safetensors library (Rust) orders names. */
function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Lays out a file as the safetensors library does: tensors sorted by descending dtype
 * alignment, then by name (so every tensor's data is aligned for a typed-array view); header
 * JSON with `__metadata__` first and each entry as {dtype, shape, data_offsets}, padded with
 * spaces to a multiple of 8 bytes. Validates every tensor first.
 */
export function planSafetensors(
  input: SafetensorsInput,
  metadata: Record<string, string> = {},
): SafetensorsPlan {
  const entries = input instanceof Map ? [...input.entries()] : Object.entries(input);
  for (const [name, t] of entries) validateTensor(name, t);
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') {
      throw new SafetensorsError(
        SOURCE,
        undefined,
        `metadata ${JSON.stringify(key)} is not a string`,
      );
    }
  }
  if (entries.some(([name]) => name === '__metadata__')) {
    throw new SafetensorsError(SOURCE, '__metadata__', 'this name is reserved for the metadata');
  }
  entries.sort(
    ([an, a], [bn, b]) => DTYPES[b.dtype].rank - DTYPES[a.dtype].rank || compareNames(an, bn),
  );

  const header: Record<string, unknown> = {};
  const keys = Object.keys(metadata).sort(compareNames);
  if (keys.length > 0)
    header['__metadata__'] = Object.fromEntries(keys.map((k) => [k, metadata[k]]));
  let offset = 0;
  const tensors = entries.map(([name, tensor]) => {
    const byteLength = tensor.data.length * DTYPES[tensor.dtype].size;
    header[name] = {
      dtype: tensor.dtype,
      shape: tensor.shape,
      data_offsets: [offset, offset + byteLength],
    };
    offset += byteLength;
    return { name, tensor, byteLength };
  });

  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + padded).fill(0x20, 8); // pad with spaces
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  return { head, tensors, totalBytes: head.length + offset };
}

function validateTensor(name: string, t: SafetensorsTensor): void {
  const fail = (detail: string): never => {
    throw new SafetensorsError(SOURCE, name, detail);
  };
  if (!Object.hasOwn(DTYPES, t.dtype)) fail(`unknown dtype ${JSON.stringify(t.dtype)}`);
  if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`bad shape [${t.shape}]`);
  const elements = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== elements)
    fail(`shape [${t.shape}] has ${elements} elements, data has ${t.data.length}`);
  if (!holdsDtype(t.data, t.dtype)) {
    fail(`${t.dtype} data must be a ${DTYPES[t.dtype].array.name}, got ${t.data.constructor.name}`);
  }
  if (t.dtype === 'BOOL' && (t.data as Uint8Array).some((v) => v > 1))
    fail('BOOL data must be 0 or 1');
}

/**
 * The little-endian bytes of a tensor: a view of its data (no copy) except for F16/BF16,
 * which are rounded from float32 into a new buffer.
 */
export function tensorBytes(t: SafetensorsTensor): Uint8Array {
  if (t.dtype === 'F16' || t.dtype === 'BF16') {
    const half = new Uint16Array(t.data.length);
    (t.dtype === 'F16' ? float32ToFloat16 : float32ToBfloat16)(t.data as Float32Array, half);
    return new Uint8Array(half.buffer);
  }
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/**
 * Serialises tensors (and string metadata) to the bytes of a safetensors file, laid out exactly
 * as the safetensors library would (see planSafetensors). Little-endian.
 */
export function serializeSafetensors(
  tensors: SafetensorsInput,
  metadata?: Record<string, string>,
): Uint8Array {
  const plan = planSafetensors(tensors, metadata);
  const out = new Uint8Array(plan.totalBytes);
  out.set(plan.head, 0);
  let offset = plan.head.length;
  for (const { tensor, byteLength } of plan.tensors) {
    out.set(tensorBytes(tensor), offset);
    offset += byteLength;
  }
  return out;
}
