/**
 * `mmim data inspect PATH [--json]`: what a dataset file holds and what is wrong with it,
 * without stopping at the first problem. PATH is an MMSA or MMIM-repo pickle (format detected
 * from its keys), a .csd file, or a folder of .csd files (each summarised; with its folds.json
 * the folder is also read as a dataset and its splits shown). Which reader reads a path comes
 * from the reader table (readers/registry.ts), as for loadDataset.
 */
import { roundHalfEven } from '@mmim/model';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Tokenize } from './readers/common.js';
import { CsdFile } from './readers/csd-file.js';
import type { MmimReadOptions } from './readers/mmim.js';
import { CSD_FOLDS_FILE, csdFolderReader, pickReader } from './readers/registry.js';
import { ProblemLog, type DataProblem } from './readers/problems.js';
import {
  DataError,
  SPLITS,
  type DatasetFormat,
  type MsaDataset,
  type ReadNotes,
  type SplitData,
  type SplitName,
} from './types.js';

export interface InspectOptions {
  /** Tokenizer for files without token ids; without one, token statistics are left out. */
  tokenize?: Tokenize;
  /** MMIM-repo pickles: the label CSV (default: beside the pickle). */
  labelCsv?: string;
  csvJoin?: MmimReadOptions['csvJoin'];
}

export interface LengthStats {
  min: number;
  median: number;
  max: number;
  mean: number;
}

export interface ModalitySummary {
  steps: number;
  dim: number;
  lengths: LengthStats | null;
}

export interface SplitSummary {
  name: SplitName;
  size: number;
  textLength: number;
  /** Real tokens per sample (attention mask sums); null without token ids or a tokenizer. */
  tokens: LengthStats | null;
  emptyTexts: number;
  acoustic: ModalitySummary;
  visual: ModalitySummary;
  labels: {
    min: number | null;
    max: number | null;
    mean: number | null;
    /** Counts of labels rounded (half to even, as numpy) into -3..3: the Acc-7 classes. */
    histogram: { label: number; count: number }[];
  };
}

/** One .csd computational sequence. */
export interface SequenceSummary {
  file: string;
  root: string;
  entries: number;
  /** Feature width; null when entries disagree (a problem is reported). */
  dim: number | null;
  rows: LengthStats | null;
  metadata: Record<string, string>;
}

/** Plain JSON: no typed arrays, bigints or NaN. */
export interface InspectReport {
  path: string;
  format: DatasetFormat | 'unknown';
  name: string | null;
  bytes: number;
  readSeconds: number;
  splits: SplitSummary[];
  sequences: SequenceSummary[];
  notes: ReadNotes | null;
  problems: DataProblem[];
  /** True when no problem is an error. */
  ok: boolean;
}

export async function inspectDataset(
  target: string,
  opts: InspectOptions = {},
): Promise<InspectReport> {
  const started = performance.now();
  const problems = new ProblemLog('collect');
  const report: InspectReport = {
    path: target,
    format: 'unknown',
    name: null,
    bytes: 0,
    readSeconds: 0,
    splits: [],
    sequences: [],
    notes: null,
    problems: problems.problems,
    ok: false,
  };
  try {
    const stat = statSync(target);
    const readOptions = {
      ...opts,
      tokenize: opts.tokenize ?? NO_TOKENS,
      problems,
    };
    const show = (ds: MsaDataset): void => {
      report.format = ds.format;
      report.name = ds.name;
      report.notes = ds.notes ?? null;
      report.splits = SPLITS.map((s) => summariseSplit(ds.splits[s], tokensKnown(ds, opts)));
    };
    if (stat.isDirectory()) {
      const files = readdirSync(target)
        .filter((f) => f.toLowerCase().endsWith('.csd'))
        .sort();
      if (files.length === 0)
        throw new DataError(target, 'a folder without .csd files (give a pickle or .csd path)');
      report.format = 'csd';
      for (const f of files) {
        const p = path.join(target, f);
        report.bytes += statSync(p).size;
        await summariseCsd(p, report, problems);
      }
      // With its folds the folder is a dataset: read it as loadDataset would.
      if (csdFolderReader.detect(target) >= 1)
        show(await csdFolderReader.read(target, readOptions));
      else
        problems.warn(
          new DataError(target, `no ${CSD_FOLDS_FILE}: the sequences are shown, not split`),
        );
    } else {
      report.bytes = stat.size;
      if (target.toLowerCase().endsWith('.csd')) {
        report.format = 'csd';
        await summariseCsd(target, report, problems);
      } else {
        show(await pickReader(target).read(target, readOptions));
      }
    }
  } catch (err) {
    problems.error(asDataError(target, err));
  }
  report.readSeconds = Math.round((performance.now() - started) / 10) / 100;
  report.ok = problems.errorCount === 0;
  return report;
}

function asDataError(target: string, err: unknown): DataError {
  if (err instanceof DataError) return err;
  return new DataError(target, err instanceof Error ? err.message : String(err));
}

/** A stand-in tokenizer when none is given: inspection still runs, token counts are skipped. */
const NO_TOKENS: Tokenize = () => ({
  ids: new Int32Array(50),
  mask: new Int32Array(50),
  types: new Int32Array(50),
});

/** Token counts are real when the file had token ids or a tokenizer was given. */
function tokensKnown(ds: MsaDataset, opts: InspectOptions): boolean {
  if (opts.tokenize) return true;
  return ds.splits.train.bertMask.some((m) => m !== 0);
}

function stats(values: ArrayLike<number>): LengthStats | null {
  const n = values.length;
  if (n === 0) return null;
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i] as number;
  const mid = n >> 1;
  const median =
    n % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { min: sorted[0] as number, median, max: sorted[n - 1] as number, mean: round(sum / n) };
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

function summariseSplit(s: SplitData, withTokens: boolean): SplitSummary {
  const L = s.textLength;
  const tokenCounts = Array.from({ length: s.size }, (_, i) =>
    s.bertMask.subarray(i * L, (i + 1) * L).reduce((a, b) => a + b, 0),
  );
  const counts = new Map<number, number>();
  for (let k = -3; k <= 3; k++) counts.set(k, 0);
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of s.labels) {
    sum += v;
    min = Math.min(min, v);
    max = Math.max(max, v);
    const k = roundHalfEven(Math.min(3, Math.max(-3, v)));
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return {
    name: s.name,
    size: s.size,
    textLength: L,
    tokens: withTokens ? stats(tokenCounts) : null,
    emptyTexts: s.texts.filter((t) => t.trim() === '').length,
    acoustic: { steps: s.acousticSteps, dim: s.acousticDim, lengths: stats(s.acousticLengths) },
    visual: { steps: s.visualSteps, dim: s.visualDim, lengths: stats(s.visualLengths) },
    labels: {
      min: s.size ? round(min) : null,
      max: s.size ? round(max) : null,
      mean: s.size ? round(sum / s.size) : null,
      histogram: [...counts].map(([label, count]) => ({ label, count })),
    },
  };
}

async function summariseCsd(
  file: string,
  report: InspectReport,
  problems: ProblemLog,
): Promise<void> {
  let csd: CsdFile;
  try {
    csd = await CsdFile.open(file);
  } catch (err) {
    problems.error(asDataError(file, err));
    return;
  }
  try {
    const keys = csd.keys();
    const rows: number[] = [];
    const dims = new Map<number, string>();
    for (const k of keys) {
      const { rows: r, dim } = csd.shape(k);
      rows.push(r);
      if (!dims.has(dim)) dims.set(dim, k);
    }
    if (dims.size > 1) {
      const list = [...dims].map(([d, k]) => `${d} (e.g. '${k}')`).join(', ');
      problems.error(
        new DataError(file, `entries have different feature widths: ${list}`, {
          field: 'features',
        }),
      );
    }
    report.sequences.push({
      file,
      root: csd.root,
      entries: keys.length,
      dim: dims.size === 1 ? ([...dims.keys()][0] as number) : null,
      rows: stats(rows),
      metadata: csd.metadata(),
    });
  } catch (err) {
    problems.error(asDataError(file, err));
  } finally {
    csd.close();
  }
}

const fmtStats = (s: LengthStats | null): string => (s ? `${s.min}/${s.median}/${s.max}` : '-');

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function fmtBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}

/** The report for a terminal. */
export function formatInspectReport(report: InspectReport): string {
  const out: string[] = [];
  out.push(`${report.path}`);
  out.push(
    `  format ${report.format}${report.name ? `, dataset '${report.name}'` : ''}, ${fmtBytes(report.bytes)}, read in ${report.readSeconds} s`,
  );
  if (report.splits.length > 0) {
    out.push('');
    out.push(
      table([
        [
          'split',
          'samples',
          'acoustic T x d',
          'len min/med/max',
          'visual T x d',
          'len min/med/max',
          'tokens min/med/max',
          'label min/mean/max',
        ],
        ...report.splits.map((s) => [
          s.name,
          String(s.size),
          `${s.acoustic.steps} x ${s.acoustic.dim}`,
          fmtStats(s.acoustic.lengths),
          `${s.visual.steps} x ${s.visual.dim}`,
          fmtStats(s.visual.lengths),
          fmtStats(s.tokens),
          s.labels.min === null ? '-' : `${s.labels.min}/${s.labels.mean}/${s.labels.max}`,
        ]),
      ]),
    );
    out.push('');
    out.push('labels rounded to -3..3 (the Acc-7 classes):');
    out.push(
      table([
        ['split', ...[-3, -2, -1, 0, 1, 2, 3].map(String)],
        ...report.splits.map((s) => [s.name, ...s.labels.histogram.map((h) => String(h.count))]),
      ]),
    );
    const empty = report.splits.filter((s) => s.emptyTexts > 0);
    for (const s of empty) out.push(`${s.name}: ${s.emptyTexts} samples have no text`);
  }
  if (report.sequences.length > 0) {
    out.push('');
    out.push(
      table([
        ['file', 'root', 'entries', 'dim', 'rows min/med/max'],
        ...report.sequences.map((q) => [
          path.basename(q.file),
          q.root,
          String(q.entries),
          q.dim === null ? 'mixed' : String(q.dim),
          fmtStats(q.rows),
        ]),
      ]),
    );
  }
  const n = report.notes;
  if (n) {
    const changed = [
      n.negInfAcousticZeroed &&
        `${n.negInfAcousticZeroed} -inf acoustic values set to 0 (as MMSA's loader)`,
      n.nonFiniteZeroed && `${n.nonFiniteZeroed} NaN/Inf values set to 0 (sanitize)`,
      n.zeroLengthsRaised && `${n.zeroLengthsRaised} lengths of 0 raised to 1`,
      n.paddingZeroed && `${n.paddingZeroed} non-zero values after sequence lengths set to 0`,
      ...n.warnings,
    ].filter((x): x is string => typeof x === 'string');
    if (changed.length > 0) {
      out.push('');
      out.push('notes:');
      for (const c of changed) out.push(`  ${c}`);
    }
  }
  out.push('');
  if (report.problems.length === 0) out.push('no problems found');
  else {
    out.push(`problems (${report.problems.length}):`);
    for (const p of report.problems)
      out.push(`  ${p.severity}: ${p.message}${p.count > 1 ? ` (x${p.count})` : ''}`);
  }
  return out.join('\n');
}
