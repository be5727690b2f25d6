/** libs/data's parsers: the strict unpickler, the dataset readers on top of it, the label CSV. */
import {
  DataError,
  PickleError,
  pickle,
  readDataset,
  readLabelCsv,
  unpickle,
  type Tokenize,
} from '@mmim/data';
import type { FuzzTarget } from '../harness/check.js';
import { scratchFile } from './scratch.js';

/** Most values visited when walking an unpickled tree (memo references can share subtrees). */
const WALK_LIMIT = 20_000;

/**
 * Reads what a reader would read from an unpickled value: every array converted, every text
 * decoded. Shared and cyclic references (memo GETs) are visited once.
 */
function consume(root: pickle.PyValue): number {
  const seen = new Set<object>();
  const todo: pickle.PyValue[] = [root];
  let visited = 0;
  while (todo.length > 0 && visited < WALK_LIMIT) {
    const v = todo.pop() as pickle.PyValue;
    visited += 1;
    if (v === null || typeof v !== 'object') continue;
    if (seen.has(v)) continue;
    seen.add(v);
    if (v instanceof pickle.NdArray) {
      const kind = v.dtype.typeKind;
      if (kind === 'U' || kind === 'S') pickle.toStrings(v);
      else if (kind === 'O') todo.push(...pickle.toObjects(v));
      else {
        pickle.toNumeric(v);
        pickle.toFloat32(v);
      }
    } else if (v instanceof pickle.PyDict) {
      for (const [k, val] of v.entries()) todo.push(k, val);
    } else if (
      v instanceof pickle.PyList ||
      v instanceof pickle.PyTuple ||
      v instanceof pickle.PySet
    ) {
      todo.push(...v.items);
    } else if (v instanceof pickle.PyBytes) {
      v.bytes();
    } else if (v instanceof pickle.PyLargeText) {
      v.text();
    }
  }
  return visited;
}

/** Stands in for BERT's tokenizer: the readers only need the shapes right (text length 50). */
const fakeTokenize: Tokenize = (text) => {
  const L = 50;
  const ids = new Int32Array(L);
  const mask = new Int32Array(L);
  text
    .split(' ')
    .slice(0, L)
    .forEach((w, i) => {
      ids[i] = 1000 + w.length;
      mask[i] = 1;
    });
  return { ids, mask, types: new Int32Array(L) };
};

export const pickleTarget: FuzzTarget = {
  name: 'pickle',
  text: false,
  errorClasses: [PickleError],
  run: (bytes) => consume(unpickle(bytes)),
};

/**
 * The unpickler reading from a file with every payload over 16 bytes left on disk (what it does
 * with payloads of 1 MiB and more): exercises the lazy `SourceBytes` and `FileSource` paths.
 */
export const pickleLazyTarget: FuzzTarget = {
  name: 'pickle-lazy',
  corpus: 'pickle',
  text: false,
  errorClasses: [PickleError],
  run: (bytes) => {
    const source = new pickle.FileSource(scratchFile('.lazy.pkl', bytes));
    try {
      return consume(unpickle(source, { lazyThreshold: 16 }));
    } finally {
      source.close();
    }
  },
};

/** The whole reader on a file: unpickler, format detection, MMSA / MMIM-repo readers. */
export const datasetPickleTarget: FuzzTarget = {
  name: 'dataset-pickle',
  text: false,
  errorClasses: [DataError, PickleError],
  run: (bytes) => readDataset(scratchFile('.pkl', bytes), { tokenize: fakeTokenize }),
};

export const labelCsvTarget: FuzzTarget = {
  name: 'label-csv',
  text: true,
  errorClasses: [DataError],
  run: (bytes) => readLabelCsv(scratchFile('.csv', bytes)),
};
