import { DTYPES, decodeElements, isDtype } from './dtypes.js';
import {
  SafetensorsError,
  type SafetensorsDtype,
  type SafetensorsFile,
  type SafetensorsTensor,
} from './types.js';

/** The safetensors library refuses larger headers; so do we (a corrupt length would be huge). */
export const MAX_HEADER_BYTES = 100_000_000;

interface Entry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Parses a safetensors file: 8 bytes of little-endian header length N, N bytes of JSON header,
 * then the tensors' raw little-endian bytes.
 *
 * Validation is strict so that a truncated, torn or corrupted file is an error naming the file
 * (`source`) and the tensor, never garbage: the header must fit in the file and be a JSON object;
 * every tensor needs a known dtype, a shape and data_offsets whose span is exactly
 * prod(shape) * dtype size; the tensors' byte ranges must tile the data section with no gap and
 * no overlap, ending exactly at the end of the file; `__metadata__` must map strings to strings.
 *
 * Data is returned as views of `bytes` where aligned (no copy; F16/BF16 are converted), so
 * the file bytes are held once: do not modify `bytes` while using the tensors.
 */
export function parseSafetensors(bytes: Uint8Array, source = '<bytes>'): SafetensorsFile {
  const fail = (detail: string, tensor?: string): never => {
    throw new SafetensorsError(source, tensor, detail);
  };
  if (bytes.length < 8) fail(`${bytes.length} bytes is too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    fail(
      `header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt file?)`,
    );
  }
  const n = Number(headerLength);
  if (8 + n > bytes.length) {
    fail(`header length ${n} runs past the end of the ${bytes.length}-byte file (truncated?)`);
  }
  const header = parseHeader(bytes.subarray(8, 8 + n), fail);
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;

  const metadata = parseMetadata(header['__metadata__'], fail);
  const entries = Object.entries(header)
    .filter(([name]) => name !== '__metadata__')
    .map(([name, info]) => parseEntry(name, info, dataLength, fail));
  checkCoverage(entries, dataLength, fail);

  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    const count = (e.end - e.begin) / DTYPES[e.dtype].size;
    const data = decodeElements(bytes, dataStart + e.begin, count, e.dtype);
    if (e.dtype === 'BOOL' && (data as Uint8Array).some((v) => v > 1)) {
      fail('BOOL data holds a byte other than 0 or 1', e.name);
    }
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

type Fail = (detail: string, tensor?: string) => never;

function parseHeader(raw: Uint8Array, fail: Fail): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    return fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail('header does not start with "{"');
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    return fail(`header is not valid JSON (${(err as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    fail('header is not a JSON object');
  }
  return header as Record<string, unknown>;
}

function parseMetadata(raw: unknown, fail: Fail): Record<string, string> {
  if (raw === undefined) return {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return fail('__metadata__ is not an object of strings');
  }
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== 'string') {
      fail(`__metadata__[${JSON.stringify(key)}] is ${JSON.stringify(value)}, not a string`);
    }
    metadata[key] = value as string;
  }
  return metadata;
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function parseEntry(name: string, info: unknown, dataLength: number, fail: Fail): Entry {
  if (info === null || typeof info !== 'object' || Array.isArray(info)) {
    return fail('entry is not an object', name);
  }
  const { dtype, shape, data_offsets: offsets, ...rest } = info as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) fail(`unknown field(s) ${extra.join(', ')}`, name);
  if (!isDtype(dtype)) {
    return fail(
      `unknown dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPES).join(', ')})`,
      name,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    return fail(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`, name);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    return fail(`data_offsets ${JSON.stringify(offsets)} is not [begin, end]`, name);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) fail(`data_offsets [${begin}, ${end}] end before they begin`, name);
  if (end > dataLength) {
    fail(
      `data_offsets [${begin}, ${end}] run past the ${dataLength} data bytes in the file (truncated?)`,
      name,
    );
  }
  const elements = (shape as number[]).reduce((a, b) => a * b, 1);
  const expected = elements * DTYPES[dtype].size;
  if (!Number.isSafeInteger(expected) || expected !== end - begin) {
    fail(
      `shape [${shape}] of ${dtype} needs ${expected} bytes but data_offsets span ${end - begin}`,
      name,
    );
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/** The tensors' byte ranges must tile [0, dataLength) exactly. */
function checkCoverage(entries: Entry[], dataLength: number, fail: Fail): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let last: Entry | undefined;
  for (const e of sorted) {
    if (e.begin < covered) {
      fail(
        `data_offsets [${e.begin}, ${e.end}] overlap tensor ${JSON.stringify(last?.name)}`,
        e.name,
      );
    }
    if (e.begin > covered) {
      fail(`bytes [${covered}, ${e.begin}) of the data belong to no tensor`, e.name);
    }
    covered = e.end;
    last = e;
  }
  if (covered !== dataLength) {
    fail(`the file has ${dataLength - covered} bytes after the last tensor's data (corrupt?)`);
  }
}
