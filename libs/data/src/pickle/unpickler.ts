/**
 * A strict pickle virtual machine for protocols 2-5 (and the protocol 0/1 opcodes those still
 * use). It builds plain data only: globals go through the allow-list (globals.ts), BUILD only
 * applies numpy state, and INST/OBJ/NEWOBJ/persistent ids/extension codes are refused.
 *
 * Memory is bounded by the file: every length field is checked against the bytes that remain
 * before anything is allocated, and payloads of `lazyThreshold` bytes or more are not read at
 * all (they become `SourceBytes` that a caller reads into their final place).
 */
import { PickleError } from './errors.js';
import { NdArray, NpDtype } from './numpy.js';
import { callGlobal, resolveGlobal } from './globals.js';
import { OP, OP_NAME } from './opcodes.js';
import { MemoryBytes, MemorySource, SourceBytes, type ByteSource, type Bytes } from './source.js';
import {
  PyBytes,
  PyDict,
  PyLargeText,
  PyList,
  PySet,
  PyTuple,
  describe,
  strOf,
  type PyValue,
} from './values.js';

export interface UnpickleOptions {
  /** Protocol 5 out-of-band buffers, in the order the pickler's buffer_callback received them. */
  buffers?: readonly Uint8Array[];
  /** Payloads at least this long stay in the source until read (default 1 MiB). */
  lazyThreshold?: number;
}

const WINDOW = 1 << 20;
const MAX_LINE = 1 << 16;

/** Buffered sequential reads over a ByteSource, with bounds checks against its size. */
class Cursor {
  private buf: Uint8Array;
  private bufStart = 0;
  pos = 0;

  constructor(private readonly source: ByteSource) {
    // A buffer source is its own window: no copies.
    this.buf = source instanceof MemorySource ? source.data : new Uint8Array(0);
  }

  get remaining(): number {
    return this.source.size - this.pos;
  }

  /** Checks that `n` more bytes exist; `what` names the field in the error. */
  need(n: number, what: string): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new PickleError(`${what}: invalid length ${n}`);
    if (n > this.remaining) {
      throw new PickleError(
        `file is truncated: ${what} needs ${n} bytes, only ${this.remaining} remain`,
      );
    }
  }

  /** `n` bytes at the cursor, valid until the next read (a view, not a copy). */
  private view(n: number, what: string): Uint8Array {
    this.need(n, what);
    const off = this.pos - this.bufStart;
    if (off < 0 || off + n > this.buf.length) {
      if (n > WINDOW) {
        const out = new Uint8Array(n);
        this.source.readInto(out, this.pos);
        this.pos += n;
        return out;
      }
      const len = Math.min(WINDOW, this.source.size - this.pos);
      if (this.buf.length !== WINDOW) this.buf = new Uint8Array(WINDOW);
      this.source.readInto(this.buf.subarray(0, len), this.pos);
      this.bufStart = this.pos;
      const view = this.buf.subarray(0, n);
      this.pos += n;
      return view;
    }
    this.pos += n;
    return this.buf.subarray(off, off + n);
  }

  u8(what: string): number {
    return this.view(1, what)[0] as number;
  }
  u16(what: string): number {
    const b = this.view(2, what);
    return (b[0] as number) | ((b[1] as number) << 8);
  }
  u32(what: string): number {
    const b = this.view(4, what);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
  }
  i32(what: string): number {
    const b = this.view(4, what);
    return new DataView(b.buffer, b.byteOffset, 4).getInt32(0, true);
  }
  u64(what: string): number {
    const b = this.view(8, what);
    const v = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new PickleError(`${what}: absurd length ${v}`);
    return Number(v);
  }
  f64be(what: string): number {
    const b = this.view(8, what);
    return new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, false);
  }
  /** A copy of `n` bytes. */
  copy(n: number, what: string): Uint8Array {
    return this.view(n, what).slice();
  }
  /** A payload: copied when small, left in the source when large. */
  payload(n: number, what: string, lazyThreshold: number): Bytes {
    this.need(n, what);
    if (n < lazyThreshold) return new MemoryBytes(this.copy(n, what));
    const out = new SourceBytes(this.source, this.pos, n);
    this.pos += n;
    return out;
  }
  utf8(n: number, what: string): string {
    return new TextDecoder('utf-8').decode(this.view(n, what));
  }
  latin1(n: number, what: string): string {
    const b = this.view(n, what);
    let s = '';
    for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
    return s;
  }
  /** A newline-terminated ASCII line (protocol 0 arguments), without the newline. */
  line(what: string): string {
    let s = '';
    for (;;) {
      const c = this.u8(what);
      if (c === 0x0a) return s;
      if (s.length >= MAX_LINE)
        throw new PickleError(`${what}: line longer than ${MAX_LINE} bytes`);
      s += String.fromCharCode(c);
    }
  }
}

/** Little-endian two's complement, as LONG1/LONG4 store ints. */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i] as number);
  if ((bytes[bytes.length - 1] as number) & 0x80) v -= 1n << BigInt(bytes.length * 8);
  return Number.isSafeInteger(Number(v)) ? Number(v) : v;
}

function parseIntLine(line: string, what: string): number | bigint | boolean {
  if (line === '00') return false;
  if (line === '01') return true;
  const body = line.endsWith('L') ? line.slice(0, -1) : line;
  if (!/^[-+]?\d+$/.test(body)) throw new PickleError(`${what}: '${line}' is not an integer`);
  const v = BigInt(body);
  return Number.isSafeInteger(Number(v)) ? Number(v) : v;
}

/** Runs the pickle in `source` and returns the value STOP leaves. */
export function unpickle(source: ByteSource | Uint8Array, options: UnpickleOptions = {}): PyValue {
  const src = source instanceof Uint8Array ? new MemorySource(source) : source;
  const lazy = options.lazyThreshold ?? 1 << 20;
  const buffers = [...(options.buffers ?? [])];
  const cur = new Cursor(src);
  let stack: PyValue[] = [];
  const marks: PyValue[][] = [];
  const memo = new Map<number, PyValue>();
  let opStart = 0;
  let opName = '';

  const pop = (): PyValue => {
    if (stack.length === 0) throw new PickleError(`${opName} on an empty stack`);
    return stack.pop() as PyValue;
  };
  const top = (): PyValue => {
    if (stack.length === 0) throw new PickleError(`${opName} on an empty stack`);
    return stack[stack.length - 1] as PyValue;
  };
  const popMark = (): PyValue[] => {
    const items = stack;
    const prev = marks.pop();
    if (prev === undefined) throw new PickleError(`${opName} without a MARK`);
    stack = prev;
    return items;
  };
  const memoGet = (i: number): PyValue => {
    if (!memo.has(i)) throw new PickleError(`memo key ${i} is not set`);
    return memo.get(i) as PyValue;
  };
  const setItems = (dict: PyValue, items: PyValue[]): void => {
    if (!(dict instanceof PyDict))
      throw new PickleError(`${opName} on ${describe(dict)}, not a dict`);
    if (items.length % 2 !== 0) throw new PickleError(`${opName} with an odd number of items`);
    for (let i = 0; i < items.length; i += 2)
      dict.set(items[i] as PyValue, items[i + 1] as PyValue);
  };
  const append = (list: PyValue, items: PyValue[]): void => {
    if (list instanceof PyList) list.items.push(...items);
    else throw new PickleError(`${opName} on ${describe(list)}, not a list`);
  };
  const str = (n: number): PyValue =>
    n >= lazy ? new PyLargeText(cur.payload(n, opName, lazy)) : cur.utf8(n, opName);

  try {
    for (;;) {
      opStart = cur.pos;
      opName = '';
      const op = cur.u8('the next opcode');
      opName = OP_NAME.get(op) ?? `opcode 0x${op.toString(16)}`;
      if (opStart === 0 && op !== OP.PROTO) {
        throw new PickleError('not a pickle of protocol 2-5 (those start with byte 0x80)');
      }
      switch (op) {
        case OP.PROTO: {
          const v = cur.u8(opName);
          if (v > 5) throw new PickleError(`pickle protocol ${v} is not supported (max 5)`);
          break;
        }
        case OP.FRAME:
          // Frames only group small opcodes for I/O; reading sequentially, we only check the size.
          cur.need(cur.u64(opName), 'FRAME');
          break;
        case OP.STOP:
          if (marks.length > 0) throw new PickleError('STOP inside an unclosed MARK');
          if (stack.length !== 1)
            throw new PickleError(`STOP with ${stack.length} values on the stack`);
          return stack[0] as PyValue;

        // Constants and scalars
        case OP.NONE:
          stack.push(null);
          break;
        case OP.NEWTRUE:
          stack.push(true);
          break;
        case OP.NEWFALSE:
          stack.push(false);
          break;
        case OP.BININT:
          stack.push(cur.i32(opName));
          break;
        case OP.BININT1:
          stack.push(cur.u8(opName));
          break;
        case OP.BININT2:
          stack.push(cur.u16(opName));
          break;
        case OP.LONG1:
          stack.push(decodeLong(cur.copy(cur.u8(opName), opName)));
          break;
        case OP.LONG4: {
          const n = cur.i32(opName);
          if (n < 0 || n > 1 << 16) throw new PickleError(`LONG4 of ${n} bytes`);
          stack.push(decodeLong(cur.copy(n, opName)));
          break;
        }
        case OP.INT:
          stack.push(parseIntLine(cur.line(opName), opName));
          break;
        case OP.LONG: {
          const v = parseIntLine(cur.line(opName), opName);
          stack.push(typeof v === 'boolean' ? Number(v) : v);
          break;
        }
        case OP.BINFLOAT:
          stack.push(cur.f64be(opName));
          break;
        case OP.FLOAT: {
          const text = cur.line(opName);
          const v = Number(text);
          if (Number.isNaN(v) && !/^[-+]?nan$/i.test(text))
            throw new PickleError(`FLOAT '${text}'`);
          stack.push(v);
          break;
        }

        // Strings and bytes
        case OP.SHORT_BINUNICODE:
          stack.push(str(cur.u8(opName)));
          break;
        case OP.BINUNICODE:
          stack.push(str(cur.u32(opName)));
          break;
        case OP.BINUNICODE8:
          stack.push(str(cur.u64(opName)));
          break;
        case OP.SHORT_BINBYTES:
          stack.push(new PyBytes(cur.payload(cur.u8(opName), opName, lazy)));
          break;
        case OP.BINBYTES:
          stack.push(new PyBytes(cur.payload(cur.u32(opName), opName, lazy)));
          break;
        case OP.BINBYTES8:
          stack.push(new PyBytes(cur.payload(cur.u64(opName), opName, lazy)));
          break;
        case OP.BYTEARRAY8:
          stack.push(new PyBytes(cur.payload(cur.u64(opName), opName, lazy), true));
          break;
        case OP.SHORT_BINSTRING:
        case OP.BINSTRING: {
          // Python 2 str: decoded as latin1 (Python 3's encoding='latin1'), which keeps array
          // bytes intact; large ones stay bytes.
          const n = op === OP.SHORT_BINSTRING ? cur.u8(opName) : cur.i32(opName);
          if (n < 0) throw new PickleError(`${opName} of negative length`);
          stack.push(n >= lazy ? new PyBytes(cur.payload(n, opName, lazy)) : cur.latin1(n, opName));
          break;
        }
        case OP.NEXT_BUFFER: {
          const next = buffers.shift();
          if (next === undefined) {
            throw new PickleError(
              'the pickle uses protocol 5 out-of-band buffers, and none (or too few) were supplied',
            );
          }
          stack.push(new PyBytes(new MemoryBytes(next), true));
          break;
        }
        case OP.READONLY_BUFFER: {
          const b = pop();
          if (!(b instanceof PyBytes)) throw new PickleError(`READONLY_BUFFER on ${describe(b)}`);
          stack.push(new PyBytes(b.data, false));
          break;
        }

        // Containers
        case OP.EMPTY_LIST:
          stack.push(new PyList());
          break;
        case OP.EMPTY_DICT:
          stack.push(new PyDict());
          break;
        case OP.EMPTY_TUPLE:
          stack.push(new PyTuple([]));
          break;
        case OP.EMPTY_SET:
          stack.push(new PySet());
          break;
        case OP.MARK:
          marks.push(stack);
          stack = [];
          break;
        case OP.POP_MARK:
          popMark();
          break;
        case OP.TUPLE: {
          // Not `stack.push(f(popMark()))`: `stack` would be read before popMark replaces it.
          const items = popMark();
          stack.push(new PyTuple(items));
          break;
        }
        case OP.TUPLE1: {
          const a = pop();
          stack.push(new PyTuple([a]));
          break;
        }
        case OP.TUPLE2: {
          const b = pop();
          const a = pop();
          stack.push(new PyTuple([a, b]));
          break;
        }
        case OP.TUPLE3: {
          const c = pop();
          const b = pop();
          const a = pop();
          stack.push(new PyTuple([a, b, c]));
          break;
        }
        case OP.LIST: {
          const items = popMark();
          stack.push(new PyList(items));
          break;
        }
        case OP.DICT: {
          const d = new PyDict();
          setItems(d, popMark());
          stack.push(d);
          break;
        }
        case OP.FROZENSET: {
          const items = popMark();
          stack.push(new PySet(items));
          break;
        }
        case OP.APPEND: {
          const v = pop();
          append(top(), [v]);
          break;
        }
        case OP.APPENDS: {
          const items = popMark();
          append(top(), items);
          break;
        }
        case OP.SETITEM: {
          const v = pop();
          const k = pop();
          setItems(top(), [k, v]);
          break;
        }
        case OP.SETITEMS: {
          const items = popMark();
          setItems(top(), items);
          break;
        }
        case OP.ADDITEMS: {
          const items = popMark();
          const set = top();
          if (!(set instanceof PySet)) throw new PickleError(`ADDITEMS on ${describe(set)}`);
          set.items.push(...items);
          break;
        }
        case OP.POP:
          if (stack.length > 0) stack.pop();
          else popMark(); // Python: POP with an empty stack discards the topmost mark
          break;
        case OP.DUP:
          stack.push(top());
          break;

        // Memo
        case OP.MEMOIZE:
          memo.set(memo.size, top());
          break;
        case OP.BINPUT:
          memo.set(cur.u8(opName), top());
          break;
        case OP.LONG_BINPUT:
          memo.set(cur.u32(opName), top());
          break;
        case OP.PUT:
          memo.set(Number(parseIntLine(cur.line(opName), opName)), top());
          break;
        case OP.BINGET:
          stack.push(memoGet(cur.u8(opName)));
          break;
        case OP.LONG_BINGET:
          stack.push(memoGet(cur.u32(opName)));
          break;
        case OP.GET:
          stack.push(memoGet(Number(parseIntLine(cur.line(opName), opName))));
          break;

        // Globals and object construction: only through the allow-list.
        case OP.GLOBAL: {
          const module = cur.line(opName);
          const name = cur.line(opName);
          stack.push(resolveGlobal(module, name));
          break;
        }
        case OP.STACK_GLOBAL: {
          const name = strOf(pop());
          const module = strOf(pop());
          if (module === undefined || name === undefined)
            throw new PickleError('STACK_GLOBAL needs two strings');
          stack.push(resolveGlobal(module, name));
          break;
        }
        case OP.REDUCE: {
          const args = pop();
          const callable = pop();
          stack.push(callGlobal(callable, args));
          break;
        }
        case OP.BUILD: {
          const state = pop();
          const obj = top();
          if (obj instanceof NdArray || obj instanceof NpDtype) obj.setState(state);
          else throw new PickleError(`BUILD (__setstate__) on ${describe(obj)} is not supported`);
          break;
        }
        case OP.NEWOBJ:
        case OP.NEWOBJ_EX:
        case OP.INST:
        case OP.OBJ:
          throw new PickleError(`${opName} (arbitrary class instances) is not supported`);
        case OP.PERSID:
        case OP.BINPERSID:
          throw new PickleError(`${opName} (persistent ids) is not supported`);
        case OP.EXT1:
        case OP.EXT2:
        case OP.EXT4:
          throw new PickleError(`${opName} (extension registry) is not supported`);
        case OP.STRING:
        case OP.UNICODE:
          throw new PickleError(
            `${opName} (protocol 0 text strings) is not supported; re-save with protocol >= 2`,
          );
        default:
          throw new PickleError(`unknown ${opName}: a corrupt pickle`);
      }
    }
  } catch (err) {
    if (err instanceof PickleError) {
      if (err.offset >= 0) throw err;
      throw new PickleError(
        err.detail.includes(opName) ? err.detail : `${opName}: ${err.detail}`,
        opStart,
      );
    }
    // Anything else (a RangeError from a huge allocation, ...) still becomes a located error.
    const message = err instanceof Error ? err.message : String(err);
    throw new PickleError(`${opName}: ${message}`, opStart);
  }
}
