import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  NdArray,
  PickleError,
  PyBytes,
  PyDict,
  PyList,
  PySet,
  PyTuple,
  openPickle,
  strOf,
  toFloat32,
  toInt32,
  toNumeric,
  toStrings,
  unpickle,
  type PyValue,
} from './index.js';

const fixture = (name: string): string =>
  fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));
const expected = JSON.parse(readFileSync(fixture('expected/zoo.json'), 'utf8')) as Record<
  string,
  unknown[]
>;

function dict(v: PyValue): PyDict {
  assert.ok(v instanceof PyDict, 'expected a dict');
  return v;
}
function array(d: PyDict, key: string): NdArray {
  const v = d.get(key);
  assert.ok(v instanceof NdArray, `${key} is an ndarray`);
  return v;
}
function numbers(a: NdArray): (number | string)[] {
  return Array.from(toNumeric(a).data as ArrayLike<number | bigint>, (x) =>
    typeof x === 'bigint' ? String(x) : x,
  );
}

function checkZoo(root: PyValue): void {
  const d = dict(root);
  const close = (got: ArrayLike<number>, want: unknown[], tol = 1e-6): void => {
    assert.equal(got.length, want.length);
    for (let i = 0; i < want.length; i++)
      assert.ok(
        Math.abs((got[i] as number) - (want[i] as number)) <=
          tol * Math.abs(want[i] as number) + 1e-12,
        `index ${i}`,
      );
  };
  assert.deepEqual(array(d, 'f4').shape, [2, 3, 4]);
  close(toFloat32(array(d, 'f4')), expected.f4 as number[]);
  // Fortran order comes back in C order: equal to the C-ordered copy.
  assert.ok(array(d, 'f4_fortran').fortran);
  assert.deepEqual(
    Array.from(toFloat32(array(d, 'f4_fortran'))),
    Array.from(toFloat32(array(d, 'f4'))),
  );
  assert.deepEqual(numbers(array(d, 'f8')), expected.f8);
  assert.deepEqual(numbers(array(d, 'f8_big_endian')), expected.f8_big_endian);
  assert.deepEqual(numbers(array(d, 'f2')), expected.f2);
  for (const k of ['i1', 'i2', 'i4_big_endian', 'i8', 'u1', 'u2', 'u4', 'u8', 'bool']) {
    assert.deepEqual(numbers(array(d, k)), expected[k], k);
  }
  assert.equal(toNumeric(array(d, 'i8')).dtype, 'int64');
  assert.equal(toNumeric(array(d, 'bool')).dtype, 'bool');
  assert.deepEqual(toStrings(array(d, 'unicode')), expected.unicode);
  assert.deepEqual(toStrings(array(d, 'bytes')), expected.bytes);
  assert.deepEqual(toStrings(array(d, 'object')), expected.object);
  assert.deepEqual(toStrings(array(d, 'object_fortran')), expected.object_fortran);
  assert.deepEqual(array(d, 'zero_d').shape, []);
  assert.deepEqual(Array.from(toFloat32(array(d, 'zero_d'))), [2.5]);
  assert.deepEqual(array(d, 'empty').shape, [0, 3]);
  assert.equal(toFloat32(array(d, 'empty')).length, 0);

  const scalars = d.get('scalars');
  assert.ok(scalars instanceof PyList);
  assert.deepEqual(scalars.items, [1.5, -0.25, -7, 9, true, 200]);

  const py = dict(d.get('py') ?? null);
  assert.equal(py.get('none'), null);
  assert.equal(py.get('t'), true);
  assert.equal(py.get('f'), false);
  assert.equal(py.get('int'), -5);
  assert.equal(py.get('big'), 2n ** 70n);
  assert.equal(py.get('negbig'), -(2n ** 65n));
  assert.equal(py.get('float'), 0.1);
  // With a tiny lazyThreshold strings arrive lazy (PyLargeText): strOf reads both forms.
  assert.equal(strOf(py.get('str')), 'héllo ☃');
  const bytes = py.get('bytes');
  assert.ok(bytes instanceof PyBytes);
  assert.deepEqual(Array.from(bytes.bytes()), [0, 255]);
  const tuple = py.get('tuple');
  assert.ok(tuple instanceof PyTuple);
  assert.deepEqual(
    tuple.items.map((x) => strOf(x) ?? x),
    [1, 'a'],
  );
  const nested = dict(dict(py.get('nested') ?? null).get('k') ?? null).get('k2');
  assert.ok(nested instanceof PyList);
  assert.deepEqual(nested.items, [null]);

  const specials = d.get('specials');
  assert.ok(specials instanceof PyList);
  assert.ok(Number.isNaN(specials.items[0]));
  assert.deepEqual(specials.items.slice(1), [Infinity, -Infinity]);
  const set = d.get('set');
  assert.ok(set instanceof PySet);
  assert.deepEqual([...set.items].sort(), [3, 4]);
  const ba = d.get('bytearray');
  assert.ok(ba instanceof PyBytes && ba.mutable);
  assert.equal(new TextDecoder().decode(ba.bytes()), 'abc');
  const empty = d.get('empty_bytes');
  assert.ok(empty instanceof PyBytes && empty.data.length === 0);
  assert.deepEqual(
    dict(d.get('ordered') ?? null)
      .keys()
      .map(strOf),
    ['b', 'a'],
  );
  const intKeys = dict(d.get('int_keys') ?? null).entries();
  assert.equal(intKeys.length, 2);
  assert.deepEqual(
    intKeys[0]?.map((x) => strOf(x) ?? x),
    [1, 'one'],
  );
}

describe('unpickle: values of every supported kind', () => {
  for (const name of ['zoo_p2', 'zoo_p3', 'zoo_p4', 'zoo_p5', 'zoo_numpy2_p2']) {
    it(`${name} from memory`, () => checkZoo(unpickle(readFileSync(fixture(`${name}.pkl`)))));
  }
  for (const name of ['zoo_p2', 'zoo_p4', 'zoo_p5']) {
    // Threshold 1: every payload stays in the file and is read on conversion (the big-file path;
    // for protocol 2 that includes decoding latin1 text without building a string).
    it(`${name} from a file with lazy payloads`, () => {
      const file = openPickle(fixture(`${name}.pkl`), { lazyThreshold: 1 });
      try {
        checkZoo(file.root);
      } finally {
        file.close();
      }
    });
  }

  it('reads arrays after close() fail with a clear error, not garbage', () => {
    const file = openPickle(fixture('zoo_p4.pkl'), { lazyThreshold: 1 });
    file.close();
    file.close();
    assert.throws(() => toFloat32(array(dict(file.root), 'f4')), /closed/);
  });

  it('protocol 5 out-of-band buffers, when supplied', () => {
    const bytes = readFileSync(fixture('oob_p5.pkl'));
    const buffers = [0, 1].map(
      (i) => new Uint8Array(readFileSync(fixture(`oob_p5.buffer${i}.bin`))),
    );
    const d = dict(unpickle(bytes, { buffers }));
    assert.deepEqual(Array.from(toFloat32(array(d, 'a'))), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(array(d, 'a').shape, [2, 3]);
    assert.deepEqual(Array.from(toInt32(array(d, 'b'))), [1, 2, 3]);
    assert.throws(() => unpickle(bytes), /out-of-band buffers/);
  });
});

describe('unpickle: refusals', () => {
  it('refuses os.system and names it, without running anything', () => {
    assert.throws(
      () => unpickle(readFileSync(fixture('evil_os_system.pkl'))),
      /refusing to load global 'posix\.system'/,
    );
    assert.equal(existsSync('/tmp/mmim-pwned'), false);
  });
  it('refuses builtins.eval (protocol 4 STACK_GLOBAL)', () => {
    assert.throws(() => unpickle(readFileSync(fixture('evil_eval.pkl'))), /'builtins\.eval'/);
  });
  it('refuses a 2^50-byte length before allocating', () => {
    assert.throws(
      () => unpickle(readFileSync(fixture('huge_length.pkl'))),
      /truncated: BINBYTES8 needs 1125899906842624 bytes/,
    );
  });
  it('refuses a file that is not a pickle', () => {
    assert.throws(() => unpickle(readFileSync(fixture('not_a_pickle.pkl'))), /not a pickle/);
  });
  it('every truncation of a pickle is a PickleError, never a crash', () => {
    const whole = readFileSync(fixture('zoo_p4.pkl'));
    for (let n = 0; n < whole.length; n++) {
      assert.throws(() => unpickle(whole.subarray(0, n)), PickleError, `cut at ${n}`);
    }
  });
  it('corrupted bytes give a PickleError or a value, never another exception', () => {
    const whole = new Uint8Array(readFileSync(fixture('zoo_p2.pkl')));
    let seed = 12345;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let failures = 0;
    for (let trial = 0; trial < 1500; trial++) {
      const bad = whole.slice();
      for (let k = 0; k < 3; k++) bad[Math.floor(rand() * bad.length)] = Math.floor(rand() * 256);
      try {
        unpickle(bad);
      } catch (err) {
        assert.ok(err instanceof PickleError, `trial ${trial}: ${String(err)}`);
        failures++;
      }
    }
    assert.ok(failures > 100, 'most corruptions are detected');
  });
});

/** A hand-written protocol 5 stream with numpy 2's module names, and malformed variants. */
function frombufferPickle(
  module: string,
  data: number[],
  shape: number[],
  dtypeState: number[] = [],
): Uint8Array {
  const out: number[] = [0x80, 5];
  const str = (s: string): void => {
    const b = new TextEncoder().encode(s);
    out.push(0x8c, b.length, ...b);
  };
  str(module);
  str('_frombuffer');
  out.push(0x93, 0x28); // STACK_GLOBAL, MARK
  out.push(0x96, data.length, 0, 0, 0, 0, 0, 0, 0, ...data); // BYTEARRAY8
  str('numpy');
  str('dtype');
  out.push(0x93);
  str('f4');
  out.push(0x89, 0x88, 0x87, 0x52); // False, True, TUPLE3, REDUCE
  out.push(0x28, 0x4b, 3); // MARK, 3
  str('<');
  out.push(...(dtypeState.length ? dtypeState : [0x4e, 0x4e, 0x4e]));
  out.push(0x4a, 255, 255, 255, 255, 0x4a, 255, 255, 255, 255, 0x4b, 0, 0x74, 0x62); // -1, -1, 0, TUPLE, BUILD
  out.push(0x28, ...shape.flatMap((d) => [0x4b, d]), 0x74); // shape tuple
  str('C');
  out.push(0x74, 0x52, 0x2e); // TUPLE, REDUCE, STOP
  return new Uint8Array(out);
}

describe('unpickle: numpy 2 protocol 5 and malformed arrays', () => {
  const onePointFive = [0, 0, 0xc0, 0x3f];
  it('numpy._core.numeric._frombuffer', () => {
    const a = unpickle(
      frombufferPickle('numpy._core.numeric', [...onePointFive, ...onePointFive], [2]),
    );
    assert.ok(a instanceof NdArray);
    assert.deepEqual(Array.from(toFloat32(a)), [1.5, 1.5]);
  });
  it('a shape that does not match the data is refused', () => {
    assert.throws(
      () => unpickle(frombufferPickle('numpy.core.numeric', onePointFive, [3])),
      /shape \(3\) needs 12 bytes, the file has 4/,
    );
  });
  it('structured dtypes are refused', () => {
    // names = ('a',) instead of None
    const names = [0x4e, 0x8c, 1, 0x61, 0x85, 0x4e];
    assert.throws(
      () => unpickle(frombufferPickle('numpy.core.numeric', onePointFive, [1], names)),
      /structured/,
    );
  });
  it('a memo key that was never set is an error', () => {
    assert.throws(() => unpickle(new Uint8Array([0x80, 2, 0x68, 5, 0x2e])), /memo key 5/);
  });
});
