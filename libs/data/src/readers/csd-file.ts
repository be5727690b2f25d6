/**
 * One CMU-MultimodalSDK computational sequence (`.csd`, HDF5), read with h5wasm:
 *   /<root>/data/<entry>/features   (m, d) numbers, or (m, 1) byte strings for words
 *   /<root>/data/<entry>/intervals  (m, 2) start/end seconds
 *   /<root>/metadata/<key>          (1,) str, some of them JSON
 * An entry is a video (raw SDK downloads) or a segment `video[k]` (after the SDK's align).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import h5wasm from 'h5wasm/node';
import { DataError } from '../types.js';

type H5File = InstanceType<typeof h5wasm.File>;

let ready: Promise<void> | null = null;

/** h5wasm prints HDF5's error stack and carries on unless told to throw: we want errors. */
function init(): Promise<void> {
  ready ??= h5wasm.ready.then((module) => {
    module.activate_throwing_error_handler();
  });
  return ready;
}

/** The useful line of an HDF5 error stack: its innermost message. */
function hdf5Message(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const lines = [...text.matchAll(/in \w+\(\): (.*)$/gm)].map((m) => m[1]);
  const minor = [...text.matchAll(/minor: (.*)$/gm)].map((m) => m[1]);
  const last = lines[lines.length - 1];
  return last
    ? `${last}${minor.length ? ` (${minor[minor.length - 1]})` : ''}`
    : (text.split('\n')[0] ?? text);
}

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

export class CsdFile {
  private constructor(
    readonly path: string,
    private readonly file: H5File,
    /** The single top-level group, e.g. 'COVAREP', 'FACET 4.2', 'Opinion Segment Labels'. */
    readonly root: string,
  ) {}

  static async open(path: string): Promise<CsdFile> {
    await init();
    const head = new Uint8Array(8);
    try {
      const fd = openSync(path, 'r');
      try {
        readSync(fd, head, 0, 8, 0);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      throw new DataError(path, `cannot open: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!HDF5_SIGNATURE.every((b, i) => head[i] === b))
      throw new DataError(path, 'not an HDF5 (.csd) file');
    let file: H5File;
    try {
      file = new h5wasm.File(path, 'r');
    } catch (err) {
      throw new DataError(path, `unreadable HDF5 file: ${hdf5Message(err)}`);
    }
    const roots = file.keys();
    const root = roots[0];
    if (roots.length !== 1 || root === undefined) {
      file.close();
      throw new DataError(
        path,
        `expected one top-level group (a computational sequence), found: ${roots.join(', ')}`,
      );
    }
    const csd = new CsdFile(path, file, root);
    csd.guard('data', () => {
      if (!(file.get(`${root}/data`) instanceof h5wasm.Group))
        throw new Error(`no '${root}/data' group`);
    });
    return csd;
  }

  close(): void {
    this.file.close();
  }

  /** Runs an h5wasm call, turning its failure into a DataError naming the HDF5 path. */
  private guard<T>(field: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof DataError) throw err;
      throw new DataError(this.path, hdf5Message(err), { field });
    }
  }

  private keyList: string[] | null = null;
  private keySet: Set<string> | null = null;

  /** Entry ids (videos or segments) in file order. */
  keys(): string[] {
    this.keyList ??= this.guard('data', () =>
      (this.file.get(`${this.root}/data`) as InstanceType<typeof h5wasm.Group>).keys(),
    );
    return this.keyList;
  }

  has(key: string): boolean {
    this.keySet ??= new Set(this.keys());
    return this.keySet.has(key);
  }

  private dataset(
    key: string,
    name: 'features' | 'intervals',
  ): InstanceType<typeof h5wasm.Dataset> {
    const field = `${key}/${name}`;
    return this.guard(field, () => {
      const d = this.file.get(`${this.root}/data/${key}/${name}`);
      if (!(d instanceof h5wasm.Dataset)) throw new DataError(this.path, 'missing', { field });
      return d;
    });
  }

  /** (rows, width) of an entry's features. */
  shape(key: string): { rows: number; dim: number } {
    const shape = this.guard(`${key}/features`, () => this.dataset(key, 'features').shape ?? []);
    if (shape.length !== 2) {
      throw new DataError(this.path, `has shape (${shape.join(', ')}), expected (rows, features)`, {
        field: `${key}/features`,
      });
    }
    return { rows: shape[0] as number, dim: shape[1] as number };
  }

  /** Numeric features (rows x width, row-major) as float32. */
  features(key: string): Float32Array {
    const field = `${key}/features`;
    const value = this.guard(field, () => this.dataset(key, 'features').value);
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
      return value instanceof Float32Array
        ? value
        : Float32Array.from(value as ArrayLike<number | bigint>, Number);
    }
    throw new DataError(this.path, 'features are not numeric', { field });
  }

  /** Word features (rows x 1 byte strings) as strings. */
  words(key: string): string[] {
    const field = `${key}/features`;
    const value = this.guard(field, () => this.dataset(key, 'features').value);
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
    throw new DataError(this.path, 'features are not words (byte strings)', { field });
  }

  /** (rows x 2) start/end times, row-major. */
  intervals(key: string): Float64Array {
    const field = `${key}/intervals`;
    const value = this.guard(field, () => this.dataset(key, 'intervals').value);
    const shape = this.guard(field, () => this.dataset(key, 'intervals').shape ?? []);
    if (
      !ArrayBuffer.isView(value) ||
      value instanceof DataView ||
      shape.length !== 2 ||
      shape[1] !== 2
    ) {
      throw new DataError(
        this.path,
        `intervals have shape (${shape.join(', ')}), expected (rows, 2)`,
        { field },
      );
    }
    return Float64Array.from(value as ArrayLike<number | bigint>, Number);
  }

  /** The metadata strings (JSON left as text). */
  metadata(): Record<string, string> {
    const out: Record<string, string> = {};
    this.guard('metadata', () => {
      const g = this.file.get(`${this.root}/metadata`);
      if (!(g instanceof h5wasm.Group)) return;
      for (const k of g.keys()) {
        const d = g.get(k);
        const v = d instanceof h5wasm.Dataset ? d.value : null;
        const first = Array.isArray(v) ? v[0] : v;
        if (first !== undefined && first !== null) out[k] = String(first);
      }
    });
    return out;
  }
}
