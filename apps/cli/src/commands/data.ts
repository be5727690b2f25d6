/** `mmim data synth` and `mmim data inspect`. */
import fs from 'node:fs';
import path from 'node:path';
import {
  DATASET_FILE_NAMES,
  formatInspectReport,
  inspectDataset,
  resolveDatasetFile,
  synthesizeDataset,
} from '@mmim/data';
import { EXIT } from '../exit-codes.js';
import { UsageError } from './train-data.js';

export async function runSynth(o: {
  like: string;
  scale: number;
  seed: number;
  out: string;
  json?: boolean;
}): Promise<void> {
  if (o.like !== 'mosi' && o.like !== 'mosei')
    throw new UsageError(`--like must be mosi or mosei, got '${o.like}'`);
  const report = await synthesizeDataset({
    like: o.like,
    scale: o.scale,
    seed: o.seed,
    out: o.out,
  });
  if (o.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  process.stdout.write(
    `wrote ${o.out}: ${Object.values(report.files).join(', ')}\n` +
      `sizes train ${report.sizes.train}, valid ${report.sizes.valid}, test ${report.sizes.test} | ${(report.pickleBytes / 2 ** 20).toFixed(1)} MB | ${report.seconds.toFixed(1)} s\n`,
  );
}

export async function runInspect(o: { path: string; json?: boolean }): Promise<void> {
  // A folder holding a dataset pickle means that pickle (.csd folders are inspected as such).
  const isDir = fs.statSync(o.path, { throwIfNoEntry: false })?.isDirectory() ?? false;
  const hasPickle = isDir && DATASET_FILE_NAMES.some((n) => fs.existsSync(path.join(o.path, n)));
  const report = await inspectDataset(hasPickle ? resolveDatasetFile(o.path) : o.path, {});
  process.stdout.write(o.json ? `${JSON.stringify(report)}\n` : `${formatInspectReport(report)}\n`);
  // The report is printed either way; a file with errors (a pickle the strict unpickler
  // refused, a missing split) is a failed inspection for scripts.
  if (!report.ok) process.exitCode = EXIT.failed;
}
