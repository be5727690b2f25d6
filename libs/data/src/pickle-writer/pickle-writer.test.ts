/**
 * The pickle writer against Python. testdata/golden.pkl was written by this writer and checked
 * once by Python (`describe.py golden.pkl > golden.json`: what `pickle.load` + numpy made of it).
 * CI, which has no Python, checks that the writer still produces exactly those bytes and that the
 * value we meant matches Python's reading; where /usr/bin/python3 has numpy, a fresh file is
 * also loaded live.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NdArray } from './ndarray.js';
import { PyTuple, serializePickle, writePickleFile, type PyValue } from './pickle-writer.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const testdata = path.join(here, 'testdata');
const PYTHON = '/usr/bin/python3';

function pythonHasNumpy(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Every kind of value and every length class of opcode (short/long strings, bytes, ints). */
function sample(): PyValue {
  return {
    train: {
      audio: NdArray.of('f4', Float32Array.from([0.5, -1, 2.25, 3, 1e-8, -0]), [1, 3, 2]),
      id: NdArray.strings(['vid$_$1', 'é😀中', '']),
      audio_lengths: [3n, 1n],
      regression_labels: NdArray.of('f8', Float64Array.from([0.2, -1.4])),
      text_bert: NdArray.of(
        'f8',
        Float64Array.from({ length: 100 }, (_, i) => i),
        [1, 2, 50],
      ),
    },
    ints: [
      0n,
      255n,
      256n,
      65535n,
      65536n,
      -1n,
      2n ** 31n - 1n,
      -(2n ** 31n),
      2n ** 31n,
      -(2n ** 31n) - 1n,
      2n ** 70n,
      -(2n ** 70n),
      128n * 256n ** 3n,
    ],
    floats: [0.1, -0, 1e300, Infinity, 5e-324],
    strs: ['', 'é中😀', 'x'.repeat(300)],
    tuples: [
      new PyTuple([]),
      new PyTuple([1n]),
      new PyTuple([1n, 'a']),
      new PyTuple([1n, 'a', null]),
      new PyTuple([true, false, null, 1.5, 'z']),
    ],
    more: new Map<string, PyValue>([
      ['i8', NdArray.of('i8', BigInt64Array.from([-(2n ** 40n), 7n]))],
      ['i4', NdArray.of('i4', Int32Array.from([-5, 6]), [2, 1])],
      ['u1', NdArray.of('u1', Uint8Array.from([0, 255]))],
      ['b1', NdArray.of('b1', Uint8Array.from([1, 0, 1]))],
      ['empty_f4', NdArray.of('f4', new Float32Array(0), [0, 3])],
      [
        'streamed',
        NdArray.streamed('f4', [2, 2], () => [Float32Array.of(1, 2), Float32Array.of(3, 4)]),
      ],
      ['empty_dict', {}],
      ['empty_list', []],
    ]),
  };
}

/** What describe.py prints for `sample()`, derived independently of the encoder. */
function describeJs(v: PyValue): unknown {
  const hex = (x: number): string => floatHex(x);
  if (v === null || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return { int: v.toString() };
  if (typeof v === 'number')
    return { float: Number.isFinite(v) ? hex(v) : v > 0 ? 'inf' : v < 0 ? '-inf' : 'nan' };
  if (typeof v === 'string') return { str: v };
  if (v instanceof PyTuple) return { tuple: v.items.map(describeJs) };
  if (Array.isArray(v)) return { list: (v as PyValue[]).map(describeJs) };
  if (v instanceof NdArray) {
    const values: string[] = [];
    if (v.data.kind === 'strings') values.push(...v.data.values);
    else
      for (const chunk of v.data.chunks()) {
        for (const x of Array.from(chunk as unknown as ArrayLike<number | bigint>)) {
          values.push(v.dtype.startsWith('f') ? hex(Number(x)) : String(x));
        }
      }
    const dtype = v.dtype.startsWith('U')
      ? `<${v.dtype}`
      : v.dtype === 'u1' || v.dtype === 'b1'
        ? `|${v.dtype}`
        : `<${v.dtype}`;
    return { ndarray: dtype, shape: [...v.shape], c_contiguous: true, values };
  }
  const entries = v instanceof Map ? [...(v as ReadonlyMap<string, PyValue>)] : Object.entries(v);
  return { dict: entries.map(([k, x]) => [k, describeJs(x)]) };
}

/** Python's float.hex (e.g. 0x1.999999999999ap-4). */
function floatHex(x: number): string {
  if (x === 0) return Object.is(x, -0) ? '-0x0.0p+0' : '0x0.0p+0';
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const sign = bits >> 63n ? '-' : '';
  const exp = Number((bits >> 52n) & 0x7ffn);
  const mant = bits & ((1n << 52n) - 1n);
  const digits = mant.toString(16).padStart(13, '0');
  return exp === 0
    ? `${sign}0x0.${digits}p-1022`
    : `${sign}0x1.${digits}p${exp - 1023 >= 0 ? '+' : ''}${exp - 1023}`;
}

describe('pickle writer', () => {
  it('writes exactly the golden bytes that Python once loaded', () => {
    // Regenerate (then run describe.py on it) with PICKLE_GOLDEN_UPDATE=1.
    if (process.env.PICKLE_GOLDEN_UPDATE === '1') {
      writeFileSync(path.join(testdata, 'golden.pkl'), serializePickle(sample()));
    }
    const golden = readFileSync(path.join(testdata, 'golden.pkl'));
    assert.deepEqual(Buffer.from(serializePickle(sample())), golden);
  });

  it('means what Python read from the golden file (dtypes, shapes, values, int vs float)', () => {
    const expected = JSON.parse(
      readFileSync(path.join(testdata, 'golden.json'), 'utf8'),
    ) as unknown;
    assert.deepEqual(describeJs(sample()), expected);
  });

  it('a written file loads in Python with numpy (skipped where there is none)', (t) => {
    if (!pythonHasNumpy()) return t.skip('no /usr/bin/python3 with numpy');
    const dir = mkdtempSync(path.join(tmpdir(), 'pickle-writer-'));
    try {
      const file = path.join(dir, 'x.pkl');
      const size = writePickleFile(file, sample());
      assert.equal(size, readFileSync(file).length);
      const out = execFileSync(PYTHON, [path.join(testdata, 'describe.py'), file], {
        encoding: 'utf8',
      });
      assert.deepEqual(JSON.parse(out), describeJs(sample()));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses data that does not fill the shape and leaves no file behind', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pickle-writer-'));
    try {
      const bad = NdArray.streamed('f4', [3], () => [Float32Array.of(1, 2)]);
      assert.throws(
        () => writePickleFile(path.join(dir, 'bad.pkl'), { x: bad }),
        /produced 8 bytes, its shape needs 12/,
      );
      assert.deepEqual(readdirSync(dir), []);
      assert.throws(() => NdArray.of('f4', new Float32Array(5), [2, 2]), /holds 4 elements/);
      assert.throws(() => serializePickle({ s: '\ud800' }), /surrogate/);
      assert.throws(() => serializePickle({ f: (() => 1) as unknown as PyValue }), /cannot encode/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
