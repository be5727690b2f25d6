/**
 * Navigating an unpickled dataset with errors that name the file, split and field: every
 * PickleError (corrupt bytes, refused global, bad array) becomes a DataError here.
 */
import {
  NdArray,
  PickleError,
  PyDict,
  PyList,
  PyTuple,
  describe,
  openPickle,
  strOf,
  toInt32,
  type PickleFile,
  type PyValue,
} from '../pickle/index.js';
import { DataError, SPLITS, type SplitName } from '../types.js';
import type { ReadContext } from './common.js';

export function openPickleFile(path: string): PickleFile {
  try {
    return openPickle(path);
  } catch (err) {
    throw toDataError(path, err, {});
  }
}

type Location = { split?: SplitName; index?: number; field?: string };

/** Wraps a PickleError or file-system error; anything else is a bug and is rethrown. */
export function toDataError(file: string, err: unknown, location: Location): unknown {
  if (err instanceof DataError) return err;
  if (err instanceof PickleError)
    return new DataError(file, `not a readable pickle: ${err.message}`, location);
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && err instanceof Error)
    return new DataError(file, `cannot open: ${err.message}`, location);
  return err;
}

/** Runs `fn`, turning its PickleErrors into DataErrors at `location`. */
export function located<T>(ctx: ReadContext, location: Location, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw toDataError(ctx.file, err, location);
  }
}

/** The top-level dict's train/valid/test dicts (MMSA and MMIM files alike; 'dev' accepted for valid). */
export function splitDicts(ctx: ReadContext, root: PyValue): Record<SplitName, PyDict> {
  if (!(root instanceof PyDict))
    throw new DataError(ctx.file, `top level is ${describe(root)}, expected a dict of splits`);
  const out: Partial<Record<SplitName, PyDict>> = {};
  for (const split of SPLITS) {
    const d = root.get(split) ?? (split === 'valid' ? root.get('dev') : undefined);
    if (d === undefined) {
      const keys = root.keys().map((k) => strOf(k) ?? describe(k));
      throw new DataError(ctx.file, `no '${split}' split (top-level keys: ${keys.join(', ')})`, {
        split,
      });
    }
    if (!(d instanceof PyDict))
      throw new DataError(ctx.file, `is ${describe(d)}, expected a dict`, { split });
    out[split] = d;
  }
  return out as Record<SplitName, PyDict>;
}

export function getValue(ctx: ReadContext, d: PyDict, split: SplitName, key: string): PyValue {
  const v = d.get(key);
  if (v === undefined) {
    const keys = d.keys().map((k) => strOf(k) ?? describe(k));
    throw new DataError(ctx.file, `missing (keys here: ${keys.join(', ')})`, { split, field: key });
  }
  return v;
}

export function getArray(
  ctx: ReadContext,
  d: PyDict,
  split: SplitName,
  key: string,
  rank?: number,
): NdArray {
  const v = getValue(ctx, d, split, key);
  if (!(v instanceof NdArray))
    throw new DataError(ctx.file, `is ${describe(v)}, expected a numpy array`, {
      split,
      field: key,
    });
  if (rank !== undefined && v.shape.length !== rank) {
    throw new DataError(
      ctx.file,
      `has shape (${v.shape.join(', ')}), expected ${rank} dimensions`,
      { split, field: key },
    );
  }
  return v;
}

/** Integers from a numpy array or a list of ints (MMSA's lengths come either way). */
export function intsOf(ctx: ReadContext, d: PyDict, split: SplitName, key: string): Int32Array {
  const v = getValue(ctx, d, split, key);
  return located(ctx, { split, field: key }, () => {
    if (v instanceof NdArray) return toInt32(v);
    if (v instanceof PyList || v instanceof PyTuple) {
      return Int32Array.from(v.items, (x, i) => {
        const n = typeof x === 'bigint' ? Number(x) : x;
        if (typeof n !== 'number' || !Number.isInteger(n)) {
          throw new DataError(ctx.file, `element is ${describe(x)}, expected an int`, {
            split,
            index: i,
            field: key,
          });
        }
        return n;
      });
    }
    throw new DataError(ctx.file, `is ${describe(v)}, expected integers`, { split, field: key });
  });
}
