/**
 * A small, strict Python pickle writer (protocol 4 opcodes, no framing or memo, both optional
 * for unpicklers) for the values MMSA-style dataset files hold: dicts with str keys, lists,
 * tuples, str, float, int, bool, None and numpy arrays. Arrays are written the way numpy
 * pickles them: `numpy.core.multiarray._reconstruct(ndarray, (0,), b'b')` then `__setstate__`
 * with `(1, shape, dtype, False, raw little-endian bytes)`; numpy 1.x and 2.x both load that.
 *
 * JavaScript numbers become Python floats; Python ints are `bigint` (so `3` vs `3.0` is explicit).
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { NdArray, hasLoneSurrogate, utf32Block } from './ndarray.js';

/** A Python tuple (a JS array is a list). */
export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | NdArray
  | PyTuple
  | readonly PyValue[]
  | ReadonlyMap<string, PyValue>
  | { readonly [key: string]: PyValue };

const OP = {
  PROTO: 0x80,
  STOP: 0x2e, // .
  MARK: 0x28, // (
  NONE: 0x4e, // N
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  BININT1: 0x4b, // K
  BININT2: 0x4d, // M
  BININT: 0x4a, // J
  LONG1: 0x8a,
  BINFLOAT: 0x47, // G
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE: 0x58, // X
  SHORT_BINBYTES: 0x43, // C
  BINBYTES: 0x42, // B
  BINBYTES8: 0x8e,
  EMPTY_DICT: 0x7d, // }
  SETITEMS: 0x75, // u
  EMPTY_LIST: 0x5d, // ]
  APPENDS: 0x65, // e
  EMPTY_TUPLE: 0x29, // )
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  TUPLE: 0x74, // t
  GLOBAL: 0x63, // c
  REDUCE: 0x52, // R
  BUILD: 0x62, // b
} as const;

/** Where encoded bytes go. */
export interface ByteSink {
  write(bytes: Uint8Array): void;
}

class Encoder {
  private readonly scratch = new DataView(new ArrayBuffer(9));
  constructor(private readonly sink: ByteSink) {}

  private op(...codes: number[]): void {
    this.sink.write(Uint8Array.from(codes));
  }

  private u32(n: number): Uint8Array {
    this.scratch.setUint32(0, n, true);
    return new Uint8Array(this.scratch.buffer.slice(0, 4));
  }

  value(v: PyValue, where: string): void {
    if (v === null) this.op(OP.NONE);
    else if (typeof v === 'boolean') this.op(v ? OP.NEWTRUE : OP.NEWFALSE);
    else if (typeof v === 'number') this.float(v);
    else if (typeof v === 'bigint') this.int(v);
    else if (typeof v === 'string') this.str(v, where);
    else if (v instanceof NdArray) this.ndarray(v, where);
    else if (v instanceof PyTuple) this.tuple(v.items, where);
    else if (Array.isArray(v)) this.list(v as readonly PyValue[], where);
    else if (v instanceof Map) this.dict([...(v as ReadonlyMap<string, PyValue>)], where);
    else if (isPlainObject(v)) this.dict(Object.entries(v), where);
    else throw new Error(`pickle: cannot encode ${describe(v)} at ${where}`);
  }

  private float(x: number): void {
    this.scratch.setFloat64(1, x, false); // BINFLOAT is big-endian
    const b = new Uint8Array(this.scratch.buffer.slice(0, 9));
    b[0] = OP.BINFLOAT;
    this.sink.write(b);
  }

  int(n: bigint): void {
    if (n >= 0n && n < 256n) return this.op(OP.BININT1, Number(n));
    if (n >= 0n && n < 65536n) return this.op(OP.BININT2, Number(n & 0xffn), Number(n >> 8n));
    if (n >= -(2n ** 31n) && n < 2n ** 31n) {
      this.scratch.setInt32(0, Number(n), true);
      this.op(OP.BININT);
      return this.sink.write(new Uint8Array(this.scratch.buffer.slice(0, 4)));
    }
    // LONG1: little-endian two's complement, shortest length that keeps the sign.
    const bytes: number[] = [];
    let x = n;
    for (;;) {
      const byte = Number(x & 0xffn);
      bytes.push(byte);
      x >>= 8n; // arithmetic shift on bigint
      if ((x === 0n && (byte & 0x80) === 0) || (x === -1n && (byte & 0x80) !== 0)) break;
    }
    if (bytes.length > 255) throw new Error('pickle: integer too large');
    this.op(OP.LONG1, bytes.length, ...bytes);
  }

  str(s: string, where: string): void {
    if (hasLoneSurrogate(s))
      throw new Error(`pickle: lone UTF-16 surrogate in a string at ${where}`);
    const b = Buffer.from(s, 'utf8');
    if (b.length < 256) this.op(OP.SHORT_BINUNICODE, b.length);
    else if (b.length <= 0xffffffff) {
      this.op(OP.BINUNICODE);
      this.sink.write(this.u32(b.length));
    } else throw new Error(`pickle: string over 4 GiB at ${where}`);
    this.sink.write(b);
  }

  private bytesHeader(n: number): void {
    if (n < 256) this.op(OP.SHORT_BINBYTES, n);
    else if (n <= 0xffffffff) {
      this.op(OP.BINBYTES);
      this.sink.write(this.u32(n));
    } else {
      const h = new DataView(new ArrayBuffer(8));
      h.setBigUint64(0, BigInt(n), true);
      this.op(OP.BINBYTES8);
      this.sink.write(new Uint8Array(h.buffer));
    }
  }

  private global(module: string, name: string): void {
    this.op(OP.GLOBAL);
    this.sink.write(Buffer.from(`${module}\n${name}\n`, 'ascii'));
  }

  private tuple(items: readonly PyValue[], where: string): void {
    const codes = [OP.EMPTY_TUPLE, OP.TUPLE1, OP.TUPLE2, OP.TUPLE3] as const;
    const small = codes[items.length];
    if (small === undefined) this.op(OP.MARK);
    items.forEach((x, i) => this.value(x, `${where}[${i}]`));
    this.op(small ?? OP.TUPLE);
  }

  private list(items: readonly PyValue[], where: string): void {
    this.op(OP.EMPTY_LIST);
    if (items.length === 0) return;
    this.op(OP.MARK);
    items.forEach((x, i) => this.value(x, `${where}[${i}]`));
    this.op(OP.APPENDS);
  }

  private dict(entries: [string, PyValue][], where: string): void {
    this.op(OP.EMPTY_DICT);
    if (entries.length === 0) return;
    this.op(OP.MARK);
    for (const [k, x] of entries) {
      this.str(k, where);
      this.value(x, `${where}[${JSON.stringify(k)}]`);
    }
    this.op(OP.SETITEMS);
  }

  private ndarray(a: NdArray, where: string): void {
    this.global('numpy.core.multiarray', '_reconstruct');
    this.global('numpy', 'ndarray');
    this.op(OP.BININT1, 0, OP.TUPLE1);
    this.op(OP.SHORT_BINBYTES, 1, 0x62); // b'b'
    this.op(OP.TUPLE3, OP.REDUCE, OP.MARK, OP.BININT1, 1);
    this.tuple(
      a.shape.map((d) => BigInt(d)),
      where,
    );
    this.dtype(a.dtype);
    this.op(OP.NEWFALSE); // C order
    this.bytesHeader(a.byteLength);
    let written = 0;
    if (a.data.kind === 'strings') {
      const block = utf32Block(a.data.values, a.data.width);
      this.sink.write(block);
      written = block.length;
    } else {
      for (const chunk of a.data.chunks()) {
        const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        written += bytes.length;
        if (written > a.byteLength) break;
        this.sink.write(bytes);
      }
    }
    if (written !== a.byteLength) {
      throw new Error(
        `pickle: array at ${where} produced ${written} bytes, its shape needs ${a.byteLength}`,
      );
    }
    this.op(OP.TUPLE, OP.BUILD);
  }

  /** `numpy.dtype(code, False, True)` then its `__setstate__` (what numpy's own pickles carry). */
  private dtype(code: string): void {
    this.global('numpy', 'dtype');
    this.str(code, 'dtype');
    this.op(OP.NEWFALSE, OP.NEWTRUE, OP.TUPLE3, OP.REDUCE);
    const isString = code.startsWith('U');
    const order = code === 'u1' || code === 'b1' ? '|' : '<';
    const width = isString ? BigInt(Number(code.slice(1)) * 4) : -1n;
    this.tuple(
      [3n, order, null, null, null, width, isString ? 4n : -1n, isString ? 8n : 0n],
      'dtype',
    );
    this.op(OP.BUILD);
  }
}

function isPlainObject(v: object): v is { readonly [key: string]: PyValue } {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function describe(v: unknown): string {
  return typeof v === 'object' && v !== null ? (v.constructor?.name ?? 'object') : typeof v;
}

/** Encodes `value` as a complete pickle (PROTO ... STOP) into `sink`. */
export function encodePickle(value: PyValue, sink: ByteSink): void {
  const enc = new Encoder(sink);
  sink.write(Uint8Array.of(OP.PROTO, 4));
  enc.value(value, 'root');
  sink.write(Uint8Array.of(OP.STOP));
}

/** The whole pickle in memory (for small values and tests). */
export function serializePickle(value: PyValue): Uint8Array {
  const parts: Uint8Array[] = [];
  encodePickle(value, { write: (b) => parts.push(b.slice()) });
  return Buffer.concat(parts);
}

/**
 * Writes a pickle file through a 4 MiB buffer, to a temporary name that is fsynced and renamed
 * over `file`, so a crash or an encoding error never leaves a half-written dataset behind.
 * Returns the file's size in bytes.
 */
export function writePickleFile(file: string, value: PyValue): number {
  const temp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`,
  );
  const fd = openSync(temp, 'wx');
  const buffer = Buffer.allocUnsafe(4 << 20);
  let used = 0;
  let total = 0;
  const flush = (): void => {
    let done = 0;
    while (done < used) done += writeSync(fd, buffer, done, used - done);
    used = 0;
  };
  const sink: ByteSink = {
    write(bytes) {
      total += bytes.length;
      if (bytes.length > buffer.length) {
        flush();
        let done = 0;
        while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
        return;
      }
      if (used + bytes.length > buffer.length) flush();
      buffer.set(bytes, used);
      used += bytes.length;
    },
  };
  try {
    try {
      encodePickle(value, sink);
      flush();
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {
      // already gone
    }
    throw err;
  }
  return total;
}
