/**
 * Where pickle bytes come from, and byte payloads that are read only when used.
 *
 * A MOSEI-size pickle is several GB, beyond what `fs.readFile` returns (2 GiB) and more than we
 * want resident: so the unpickler reads a file through positional reads, and a large payload
 * (an array's raw data) becomes a `Bytes` that remembers its file offset. A reader then copies
 * only the arrays it needs straight into their final typed arrays, and never touches the
 * others (MMSA's 2.5 GB `text` BERT features).
 */
import fs from 'node:fs';
import { PickleError } from './errors.js';

/** Random-access bytes: a file or a buffer. */
export interface ByteSource {
  readonly size: number;
  /** Copies `target.length` bytes starting at `position`; throws if they are not all there. */
  readInto(target: Uint8Array, position: number): void;
}

export class MemorySource implements ByteSource {
  constructor(readonly data: Uint8Array) {}
  get size(): number {
    return this.data.length;
  }
  readInto(target: Uint8Array, position: number): void {
    if (position < 0 || position + target.length > this.data.length) {
      throw new PickleError(
        `read of ${target.length} bytes at ${position} is past the end (${this.data.length})`,
      );
    }
    target.set(this.data.subarray(position, position + target.length));
  }
}

/** readSync takes at most 2 GiB - 1 per call. */
const MAX_READ = 1 << 30;

export class FileSource implements ByteSource {
  private fd: number | null;
  readonly size: number;

  constructor(readonly path: string) {
    this.fd = fs.openSync(path, 'r');
    this.size = fs.fstatSync(this.fd).size;
  }

  readInto(target: Uint8Array, position: number): void {
    if (this.fd === null) throw new PickleError(`${this.path} was closed before its data was read`);
    if (position < 0 || position + target.length > this.size) {
      throw new PickleError(
        `read of ${target.length} bytes at ${position} is past the end (${this.size})`,
      );
    }
    let done = 0;
    while (done < target.length) {
      const want = Math.min(MAX_READ, target.length - done);
      const got = fs.readSync(this.fd, target, done, want, position + done);
      if (got <= 0) throw new PickleError(`${this.path} ended early (file changed while reading?)`);
      done += got;
    }
  }

  /** Safe to call twice. */
  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

/** A byte payload (a Python `bytes`), possibly not read yet. */
export interface Bytes {
  readonly length: number;
  /** Copies bytes [start, start + target.length) of this payload into `target`. */
  copyTo(target: Uint8Array, start?: number): void;
}

export class MemoryBytes implements Bytes {
  constructor(readonly data: Uint8Array) {}
  get length(): number {
    return this.data.length;
  }
  copyTo(target: Uint8Array, start = 0): void {
    checkRange(this.length, start, target.length);
    target.set(this.data.subarray(start, start + target.length));
  }
}

/** `length` bytes at `offset` of a source, read on demand. */
export class SourceBytes implements Bytes {
  constructor(
    readonly source: ByteSource,
    readonly offset: number,
    readonly length: number,
  ) {}
  copyTo(target: Uint8Array, start = 0): void {
    checkRange(this.length, start, target.length);
    this.source.readInto(target, this.offset + start);
  }
}

/**
 * The bytes `s.encode('latin1')` of a string `s` stored as UTF-8: how protocol 2 stores a
 * Python 3 `bytes` (`_codecs.encode(str, 'latin1')`), so numpy array data in protocol-2 files.
 * Decoded without ever building a JS string (a 1 GB array would not fit in one).
 */
export class Latin1Bytes implements Bytes {
  /** Sequential reads resume here instead of rescanning the UTF-8 from the start. */
  private resume = { decoded: 0, encoded: 0 };

  private constructor(
    private readonly utf8: Bytes,
    readonly length: number,
  ) {}

  /** Scans the UTF-8 once to check every code point is <= 0xFF and to learn the length. */
  static fromUtf8(utf8: Bytes): Latin1Bytes {
    let length = 0;
    forEachChunk(utf8, 0, utf8.length, (chunk, at) => {
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i] as number;
        if (b < 0x80) length++;
        else if (b === 0xc2 || b === 0xc3) length++;
        else if (b > 0xbf) {
          throw new PickleError(
            `string passed to latin1 encode has a character above U+00FF (byte ${at + i})`,
          );
        }
      }
    });
    return new Latin1Bytes(utf8, length);
  }

  copyTo(target: Uint8Array, start = 0): void {
    checkRange(this.length, start, target.length);
    if (start < this.resume.decoded) this.resume = { decoded: 0, encoded: 0 };
    let { decoded, encoded } = this.resume;
    let out = 0;
    let lead = 0;
    const end = start + target.length;
    // Decode from the resume point; bytes before `start` are decoded and dropped.
    forEachChunk(this.utf8, encoded, this.utf8.length, (chunk) => {
      for (let i = 0; i < chunk.length && decoded < end; i++) {
        const b = chunk[i] as number;
        encoded++;
        let value: number;
        if (b < 0x80) value = b;
        else if (b === 0xc2 || b === 0xc3) {
          lead = b;
          continue;
        } else value = ((lead & 0x03) << 6) | (b & 0x3f);
        if (decoded >= start) target[out++] = value;
        decoded++;
      }
      return decoded >= end;
    });
    this.resume = { decoded, encoded };
  }
}

/** Reads all of a payload into fresh memory. */
export function readAll(bytes: Bytes): Uint8Array {
  if (bytes instanceof MemoryBytes) return bytes.data;
  const out = new Uint8Array(bytes.length);
  bytes.copyTo(out);
  return out;
}

const CHUNK = 1 << 24;

/** Calls `fn` on successive chunks of [from, to); `fn` may return true to stop. */
export function forEachChunk(
  bytes: Bytes,
  from: number,
  to: number,
  fn: (chunk: Uint8Array, at: number) => boolean | void,
): void {
  if (bytes instanceof MemoryBytes) {
    fn(bytes.data.subarray(from, to), from);
    return;
  }
  const buf = new Uint8Array(Math.min(CHUNK, Math.max(0, to - from)));
  for (let at = from; at < to; at += CHUNK) {
    const chunk = buf.subarray(0, Math.min(CHUNK, to - at));
    bytes.copyTo(chunk, at);
    if (fn(chunk, at) === true) return;
  }
}

function checkRange(length: number, start: number, count: number): void {
  if (start < 0 || start + count > length) {
    throw new PickleError(
      `read of ${count} bytes at ${start} is past the end of a ${length}-byte payload`,
    );
  }
}
