import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  int64ToInt32,
  parseSafetensors,
  readSafetensorsFile,
  SafetensorsError,
  serializeSafetensors,
  writeSafetensorsFileAtomic,
  type SafetensorsTensor,
} from './safetensors.js';

const ALL_DTYPES: Record<string, SafetensorsTensor> = {
  f32: {
    dtype: 'F32',
    shape: [2, 3],
    data: Float32Array.from([0, -1.5, 3.25, 1e-30, Infinity, -0]),
  },
  f64: { dtype: 'F64', shape: [2], data: Float64Array.from([Math.PI, -1e300]) },
  // Values exactly representable in half / bfloat16, so the round trip is exact.
  f16: { dtype: 'F16', shape: [5], data: Float32Array.from([1, -2.5, 65504, 2 ** -24, -Infinity]) },
  bf16: { dtype: 'BF16', shape: [2, 2], data: Float32Array.from([1, -3.5, 2 ** 100, 0.15625]) },
  i64: { dtype: 'I64', shape: [3], data: BigInt64Array.from([0n, -(2n ** 62n), 2n ** 40n]) },
  i32: { dtype: 'I32', shape: [3], data: Int32Array.from([-2147483648, 0, 2147483647]) },
  i16: { dtype: 'I16', shape: [2], data: Int16Array.from([-32768, 32767]) },
  i8: { dtype: 'I8', shape: [3], data: Int8Array.from([-128, 0, 127]) },
  u8: { dtype: 'U8', shape: [1, 2], data: Uint8Array.from([0, 255]) },
  bool: { dtype: 'BOOL', shape: [3], data: Uint8Array.from([1, 0, 1]) },
  scalar: { dtype: 'F32', shape: [], data: Float32Array.from([7]) },
  empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
};

function assertSameTensor(
  got: SafetensorsTensor | undefined,
  want: SafetensorsTensor,
  name: string,
): void {
  assert.ok(got, `tensor ${name} present`);
  assert.equal(got.dtype, want.dtype, `${name} dtype`);
  assert.deepEqual(got.shape, want.shape, `${name} shape`);
  assert.equal(got.data.constructor.name, want.data.constructor.name, `${name} array type`);
  assert.deepEqual(
    Array.from(got.data as ArrayLike<number | bigint>),
    Array.from(want.data as ArrayLike<number | bigint>),
    `${name} values`,
  );
}

/** A non-I64 tensor's values as numbers. */
function numbers(t: SafetensorsTensor): number[] {
  return Array.from(t.data as Exclude<SafetensorsTensor['data'], BigInt64Array>);
}

/** What the safetensors library writes for this content, built by hand from the format rules. */
function pythonStyleFile(): Uint8Array {
  // Layout: tensors by descending dtype alignment (I64 > F32 > F16 > BOOL), then by name.
  const json =
    '{"__metadata__":{"format":"pt"},' +
    '"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},' +
    '"bias":{"dtype":"F32","shape":[2],"data_offsets":[16,24]},' +
    '"weight":{"dtype":"F32","shape":[2,2],"data_offsets":[24,40]},' +
    '"half":{"dtype":"F16","shape":[2],"data_offsets":[40,44]},' +
    '"mask":{"dtype":"BOOL","shape":[3],"data_offsets":[44,47]}}';
  const padded = json + ' '.repeat((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + padded.length + 47);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(padded.length), true);
  out.set(Buffer.from(padded, 'ascii'), 8);
  let at = 8 + padded.length;
  for (const v of [5n, -7n]) {
    view.setBigInt64(at, v, true);
    at += 8;
  }
  for (const v of [0.5, -0.25, 1, 2, 3, 4]) {
    view.setFloat32(at, v, true);
    at += 4;
  }
  for (const bits of [0x3c00, 0xc000]) {
    view.setUint16(at, bits, true); // 1.0, -2.0 as float16
    at += 2;
  }
  for (const b of [1, 0, 1]) out[at++] = b;
  return out;
}

describe('serializeSafetensors / parseSafetensors', () => {
  it('round-trips every dtype, scalars and empty tensors, with metadata', () => {
    const bytes = serializeSafetensors(ALL_DTYPES, { format: 'pt', step: '12' });
    const parsed = parseSafetensors(bytes);
    assert.deepEqual(parsed.metadata, { format: 'pt', step: '12' });
    assert.deepEqual([...parsed.tensors.keys()].sort(), Object.keys(ALL_DTYPES).sort());
    for (const [name, want] of Object.entries(ALL_DTYPES)) {
      assertSameTensor(parsed.tensors.get(name), want, name);
    }
  });

  it('reads a file laid out by the python library, and writes the same bytes', () => {
    const file = pythonStyleFile();
    const parsed = parseSafetensors(file, 'model.safetensors');
    assert.deepEqual(parsed.metadata, { format: 'pt' });
    assert.deepEqual(Array.from(parsed.tensors.get('ids')!.data as BigInt64Array), [5n, -7n]);
    assert.deepEqual(numbers(parsed.tensors.get('weight')!), [1, 2, 3, 4]);
    assert.deepEqual(parsed.tensors.get('weight')!.shape, [2, 2]);
    assert.deepEqual(numbers(parsed.tensors.get('half')!), [1, -2]);
    assert.deepEqual(numbers(parsed.tensors.get('mask')!), [1, 0, 1]);
    // Aligned data is viewed in place, not copied.
    assert.equal(parsed.tensors.get('weight')!.data.buffer, file.buffer);

    const rewritten = serializeSafetensors(parsed.tensors, parsed.metadata);
    assert.deepEqual(Buffer.from(rewritten), Buffer.from(file));
  });

  it('lays out an empty file and a one-tensor file as the safetensors library does', () => {
    const empty = serializeSafetensors({});
    assert.deepEqual(Array.from(empty.subarray(0, 8)), [8, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(Buffer.from(empty.subarray(8)).toString(), '{}      ');
    const one = serializeSafetensors({
      'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: Float32Array.from([0, 1, 2, 3, 4, 5]) },
    });
    const json = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}'; // 64 bytes
    assert.equal(Number(new DataView(one.buffer).getBigUint64(0, true)), 64);
    assert.equal(Buffer.from(one.subarray(8, 72)).toString(), json);
    assert.deepEqual(Array.from(new Float32Array(one.slice(72).buffer)), [0, 1, 2, 3, 4, 5]);
  });

  it('pads the header with spaces to a multiple of 8', () => {
    const bytes = serializeSafetensors({
      a: { dtype: 'U8', shape: [1], data: Uint8Array.from([9]) },
    });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(n % 8, 0);
    const header = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8');
    assert.match(header, /^\{"a":\{"dtype":"U8","shape":\[1\],"data_offsets":\[0,1\]\}\} *$/);
  });

  it('copies data that is not aligned in the input buffer', () => {
    const file = pythonStyleFile();
    const shifted = new Uint8Array(file.length + 1);
    shifted.set(file, 1);
    const parsed = parseSafetensors(shifted.subarray(1));
    assert.deepEqual(numbers(parsed.tensors.get('bias')!), [0.5, -0.25]);
    assert.deepEqual(Array.from(parsed.tensors.get('ids')!.data as BigInt64Array), [5n, -7n]);
  });

  it('rounds float32 to F16 and BF16 to nearest even', () => {
    const input = Float32Array.from([0.1, 65520, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1e-8, NaN]);
    const f16 = parseSafetensors(
      serializeSafetensors({ x: { dtype: 'F16', shape: [6], data: input } }),
    );
    const got = numbers(f16.tensors.get('x')!);
    assert.equal(got[0], 0.0999755859375); // nearest half to 0.1
    assert.equal(got[1], Infinity); // halfway to 65536: ties to even = overflow
    assert.equal(got[2], 1); // tie, rounds down to even
    assert.equal(got[3], 1 + 2 ** -9); // tie, rounds up to even
    assert.equal(got[4], 0); // below half the smallest subnormal
    assert.ok(Number.isNaN(got[5]));
    const bf = parseSafetensors(
      serializeSafetensors({
        x: { dtype: 'BF16', shape: [2], data: Float32Array.from([1 + 2 ** -8, 1 + 3 * 2 ** -8]) },
      }),
    );
    assert.deepEqual(numbers(bf.tensors.get('x')!), [1, 1 + 2 ** -6]);
  });

  it('rejects inconsistent input tensors, naming them', () => {
    assert.throws(
      () => serializeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } }),
      /tensor "w": shape \[2,2\] has 4 elements, data has 3/,
    );
    assert.throws(
      () => serializeSafetensors({ w: { dtype: 'I32', shape: [1], data: new Float32Array(1) } }),
      /tensor "w": I32 data must be a Int32Array, got Float32Array/,
    );
    assert.throws(
      () => serializeSafetensors({ m: { dtype: 'BOOL', shape: [1], data: Uint8Array.from([2]) } }),
      /tensor "m": BOOL data must be 0 or 1/,
    );
  });
});

/** A valid header + data with the header JSON replaced. */
function withHeader(json: string, dataBytes: number): Uint8Array {
  const n = Buffer.byteLength(json, 'utf8');
  const out = new Uint8Array(8 + n + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.set(Buffer.from(json, 'utf8'), 8);
  return out;
}

describe('parseSafetensors rejects broken files with named errors', () => {
  const entry = (dtype: string, shape: number[], begin: number, end: number): string =>
    JSON.stringify({ dtype, shape, data_offsets: [begin, end] });

  const CASES: [string, Uint8Array, RegExp][] = [
    ['shorter than 8 bytes', new Uint8Array(5), /^ckpt\.st: 5 bytes is too short/],
    [
      'header length beyond the file',
      pythonStyleFile().subarray(0, 100),
      /header length \d+ runs past the end of the 100-byte file \(truncated\?\)/,
    ],
    [
      'absurd header length',
      Uint8Array.from([255, 255, 255, 255, 255, 255, 255, 127]),
      /exceeds the 100000000-byte limit/,
    ],
    ['bad JSON', withHeader('{"a":', 0), /header is not valid JSON/],
    ['header not an object', withHeader('[1,2]', 0), /header does not start with "\{"/],
    ['header null-ish', withHeader('{"a":null}', 0), /tensor "a": entry is not an object/],
    [
      'invalid UTF-8',
      withHeader('{"\xff":1}', 0).map((b, i) => (i === 10 ? 0xff : b)),
      /not valid UTF-8/,
    ],
    [
      'unknown dtype',
      withHeader(`{"w":${entry('F8_E4M3', [1], 0, 1)}}`, 1),
      /tensor "w": unknown dtype "F8_E4M3"/,
    ],
    [
      'negative shape',
      withHeader(`{"w":${entry('F32', [-1], 0, 4)}}`, 4),
      /tensor "w": shape \[-1\] is not a list/,
    ],
    [
      'offsets past the data (truncated)',
      withHeader(`{"w":${entry('F32', [4], 0, 16)}}`, 12),
      /tensor "w": data_offsets \[0, 16\] run past the 12 data bytes in the file \(truncated\?\)/,
    ],
    [
      'shape x dtype != span',
      withHeader(`{"w":${entry('F32', [3], 0, 8)}}`, 8),
      /tensor "w": shape \[3\] of F32 needs 12 bytes but data_offsets span 8/,
    ],
    [
      'overlapping tensors',
      withHeader(`{"a":${entry('F32', [2], 0, 8)},"b":${entry('F32', [2], 4, 12)}}`, 12),
      /tensor "b": data_offsets \[4, 12\] overlap tensor "a"/,
    ],
    [
      'gap between tensors',
      withHeader(`{"a":${entry('F32', [1], 0, 4)},"b":${entry('F32', [1], 8, 12)}}`, 12),
      /tensor "b": bytes \[4, 8\) of the data belong to no tensor/,
    ],
    [
      'trailing bytes',
      withHeader(`{"a":${entry('F32', [1], 0, 4)}}`, 6),
      /2 bytes after the last tensor's data/,
    ],
    [
      'begin after end',
      withHeader(`{"a":${entry('U8', [0], 4, 2)}}`, 4),
      /tensor "a": data_offsets \[4, 2\] end before they begin/,
    ],
    [
      'metadata not strings',
      withHeader('{"__metadata__":{"epoch":3}}', 0),
      /__metadata__\["epoch"\] is 3, not a string/,
    ],
    [
      'metadata not an object',
      withHeader('{"__metadata__":"x"}', 0),
      /__metadata__ is not an object of strings/,
    ],
    [
      'unknown field',
      withHeader(`{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}`, 1),
      /tensor "w": unknown field\(s\) x/,
    ],
    [
      'BOOL byte 2',
      (() => {
        const b = withHeader(`{"m":${entry('BOOL', [1], 0, 1)}}`, 1);
        b[b.length - 1] = 2;
        return b;
      })(),
      /tensor "m": BOOL data holds a byte other than 0 or 1/,
    ],
  ];
  for (const [label, bytes, message] of CASES) {
    it(label, () => {
      assert.throws(
        () => parseSafetensors(bytes, 'ckpt.st'),
        (err: unknown) => {
          assert.ok(err instanceof SafetensorsError, `SafetensorsError, got ${String(err)}`);
          assert.equal(err.source, 'ckpt.st');
          assert.match(err.message, /^ckpt\.st: /);
          assert.match(err.message, message);
          return true;
        },
      );
    });
  }

  it('detects a file torn at any point', () => {
    const file = serializeSafetensors(ALL_DTYPES);
    for (let length = 0; length < file.length; length += 7) {
      assert.throws(
        () => parseSafetensors(file.subarray(0, length), 'torn'),
        SafetensorsError,
        `length ${length}`,
      );
    }
  });
});

describe('int64ToInt32', () => {
  it('converts values in range', () => {
    assert.deepEqual(
      Array.from(int64ToInt32(BigInt64Array.from([-2147483648n, 0n, 2147483647n]))),
      [-2147483648, 0, 2147483647],
    );
  });
  it('refuses values that do not fit, naming the tensor and element', () => {
    assert.throws(
      () => int64ToInt32(BigInt64Array.from([1n, 2n ** 31n]), 'input_ids'),
      /tensor "input_ids": element 1 = 2147483648 does not fit in int32/,
    );
  });
});

describe('readSafetensorsFile / writeSafetensorsFileAtomic', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'safetensors-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the same bytes as serializeSafetensors and reads them back', async () => {
    const file = path.join(dir, 'all.safetensors');
    await writeSafetensorsFileAtomic(file, ALL_DTYPES, { format: 'mmim' });
    assert.deepEqual(
      await readFile(file),
      Buffer.from(serializeSafetensors(ALL_DTYPES, { format: 'mmim' })),
    );
    const parsed = await readSafetensorsFile(file);
    for (const [name, want] of Object.entries(ALL_DTYPES))
      assertSameTensor(parsed.tensors.get(name), want, name);
    assert.deepEqual(await readdir(dir), ['all.safetensors'], 'no temporary file left');
  });

  it('replaces an existing file, and leaves it intact when the new content is invalid', async () => {
    const file = path.join(dir, 'ckpt.safetensors');
    await writeFile(file, 'old');
    await writeSafetensorsFileAtomic(file, { a: ALL_DTYPES['i32']! });
    const good = await readFile(file);
    await assert.rejects(
      writeSafetensorsFileAtomic(file, {
        a: { dtype: 'F32', shape: [2], data: new Float32Array(1) },
      }),
      SafetensorsError,
    );
    assert.deepEqual(await readFile(file), good);
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.endsWith('.tmp')),
      [],
    );
  });

  it('names the file in errors', async () => {
    const file = path.join(dir, 'torn.safetensors');
    await writeFile(file, serializeSafetensors(ALL_DTYPES).subarray(0, 200));
    await assert.rejects(readSafetensorsFile(file), (err: Error) =>
      err.message.startsWith(`${file}: `),
    );
  });
});
