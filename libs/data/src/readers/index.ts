/**
 * Dataset readers. `readDataset` picks the pickle reader from the file's contents; .csd
 * datasets need their files and folds spelled out (`readCsdDataset`). The table that picks a
 * reader for a path (pickle file, .csd folder) is registry.ts.
 */
import { PyDict, strOf, type PickleFile } from '../pickle/index.js';
import { DataError, type MsaDataset } from '../types.js';
import { readContext } from './common.js';
import { mmimFromPickle, type MmimReadOptions } from './mmim.js';
import { mmsaFromPickle } from './mmsa.js';
import { openPickleFile } from './pickle-access.js';

export { readMmsaPickle, type MmsaReadOptions } from './mmsa.js';
export { readMmimPickle, type MmimReadOptions } from './mmim.js';
export { readCsdDataset, type CsdReadOptions, type CsdSources } from './csd.js';
export { CsdFile } from './csd-file.js';
export { readLabelCsv, type LabelRow } from './label-csv.js';
export { ProblemLog, type DataProblem } from './problems.js';
export { DEFAULT_TEXT_LENGTH, type ReadOptions, type Tokenize } from './common.js';

export type PickleFormat = 'mmsa-pickle' | 'mmim-pickle';

/** MMSA files have `regression_labels`, the MMIM repo's have `labels` (looked up in 'train'). */
export function detectPickleFormat(file: PickleFile): PickleFormat {
  const root = file.root;
  const train = root instanceof PyDict ? root.get('train') : undefined;
  if (train instanceof PyDict) {
    if (train.has('regression_labels')) return 'mmsa-pickle';
    if (train.has('labels')) return 'mmim-pickle';
    const keys = train.keys().map((k) => strOf(k) ?? '?');
    throw new DataError(
      file.path,
      `neither an MMSA nor an MMIM-repo pickle: 'train' has keys ${keys.join(', ')}`,
      {
        split: 'train',
      },
    );
  }
  throw new DataError(
    file.path,
    "neither an MMSA nor an MMIM-repo pickle: no 'train' dict at the top level",
  );
}

/** Reads an MMSA pickle or an MMIM-repo pickle (+ its label CSV), whichever `path` is. */
export async function readDataset(
  path: string,
  options: MmimReadOptions = {},
): Promise<MsaDataset> {
  const file = openPickleFile(path);
  try {
    const ctx = readContext(path, options);
    return detectPickleFormat(file) === 'mmsa-pickle'
      ? mmsaFromPickle(file, ctx)
      : mmimFromPickle(file, ctx, options);
  } finally {
    file.close();
  }
}
