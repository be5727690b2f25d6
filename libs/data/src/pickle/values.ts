/**
 * The Python values an unpickled file can hold. Only plain data exists here: there is no
 * "object of an arbitrary class", because the unpickler refuses every global it does not know.
 */
import type { NdArray, NpDtype } from './numpy.js';
import { PickleError } from './errors.js';
import { readAll, type Bytes } from './source.js';

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PyBytes
  | PyLargeText
  | PyList
  | PyTuple
  | PyDict
  | PySet
  | NdArray
  | NpDtype
  | PyGlobal;

/** Python `bytes` / `bytearray` (the payload may still be on disk). */
export class PyBytes {
  readonly kind = 'bytes';
  constructor(
    readonly data: Bytes,
    readonly mutable = false,
  ) {}
  /** All bytes in memory: only for small payloads (ids, strings). */
  bytes(): Uint8Array {
    return readAll(this.data);
  }
}

/**
 * A str too long to be worth decoding up front (protocol 2 stores array data as latin1 text);
 * it is decoded only if used as a string.
 */
export class PyLargeText {
  readonly kind = 'large-text';
  constructor(readonly utf8: Bytes) {}
  text(): string {
    if (this.utf8.length > 1 << 29)
      throw new PickleError(`a ${this.utf8.length}-byte string is too long to decode`);
    return new TextDecoder('utf-8').decode(readAll(this.utf8));
  }
}

export class PyList {
  readonly kind = 'list';
  constructor(readonly items: PyValue[] = []) {}
}

export class PyTuple {
  readonly kind = 'tuple';
  constructor(readonly items: readonly PyValue[]) {}
}

export class PySet {
  readonly kind = 'set';
  constructor(readonly items: PyValue[] = []) {}
}

/** A global the allow-list resolved (see globals.ts); calling it is REDUCE's job. */
export class PyGlobal {
  readonly kind = 'global';
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A Python dict with hashable keys (str, int, float, bool, None, bytes, tuples of those). */
export class PyDict {
  readonly kind = 'dict';
  private readonly map = new Map<string, [PyValue, PyValue]>();

  set(key: PyValue, value: PyValue): void {
    this.map.set(hashKey(key), [key, value]);
  }
  /** Looks a str key up. */
  get(key: string): PyValue | undefined {
    return this.map.get(hashKey(key))?.[1];
  }
  has(key: string): boolean {
    return this.map.has(hashKey(key));
  }
  get size(): number {
    return this.map.size;
  }
  keys(): PyValue[] {
    return [...this.map.values()].map(([k]) => k);
  }
  entries(): [PyValue, PyValue][] {
    return [...this.map.values()];
  }
}

/** A string standing for a Python key, equal iff the keys are equal in Python (near enough). */
function hashKey(key: PyValue): string {
  if (key === null) return 'N';
  const text = strOf(key);
  if (text !== undefined) return `s${text}`;
  // Python: True == 1 and 1 == 1.0 hash alike.
  if (typeof key === 'boolean') return `n${key ? 1 : 0}`;
  if (typeof key === 'number' || typeof key === 'bigint') return `n${String(key)}`;
  if (key instanceof PyBytes) return `b${Array.from(key.bytes()).join(',')}`;
  if (key instanceof PyTuple) return `t(${key.items.map(hashKey).join('|')})`;
  if (key instanceof PySet) throw new PickleError('unhashable type: set used as a dict key');
  throw new PickleError(`unhashable type: ${describe(key)} used as a dict key`);
}

/**
 * A Python str as a JS string, whether it was decoded up front or left lazy (a lazy one is
 * decoded here); undefined for anything else.
 */
export function strOf(value: PyValue | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (value instanceof PyLargeText) return value.text();
  return undefined;
}

/** A short name of a value's Python type, for error messages. */
export function describe(value: PyValue | undefined): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'None';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int/float' : 'float';
  if (typeof value === 'bigint') return 'int';
  if (typeof value === 'string') return 'str';
  switch (value.kind) {
    case 'bytes':
      return value.mutable ? 'bytearray' : 'bytes';
    case 'large-text':
      return 'str';
    case 'ndarray':
      return value.describe();
    case 'global':
      return `global ${value.qualifiedName}`;
    default:
      return value.kind;
  }
}
