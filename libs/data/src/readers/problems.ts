/**
 * How readers report bad input. Reading for training stops at the first error (a DataError
 * naming file, split, sample and field); `inspectDataset` instead collects every problem, so a
 * user sees them all at once. Repeats of one kind of fault in one split and field are counted,
 * not listed: a NaN-riddled file gives one line with a count, not a million.
 */
import { DataError, type SplitName } from '../types.js';

export interface DataProblem {
  severity: 'error' | 'warning';
  message: string;
  file: string;
  split?: SplitName;
  /** The first sample with this problem. */
  index?: number;
  field?: string;
  /** How many times it occurred (values, samples or rows, as the message says). */
  count: number;
}

export class ProblemLog {
  readonly problems: DataProblem[] = [];
  private readonly byKey = new Map<string, DataProblem>();

  /** `throw`: errors are thrown (reading); `collect`: everything is recorded (inspecting). */
  constructor(readonly mode: 'throw' | 'collect' = 'throw') {}

  /** Records (or throws) an error. Returns only in collect mode; the caller then repairs and goes on. */
  error(err: DataError, count = 1): void {
    if (this.mode === 'throw') throw err;
    this.add('error', err, count);
  }

  warn(err: DataError, count = 1): void {
    this.add('warning', err, count);
  }

  get errorCount(): number {
    return this.problems.filter((p) => p.severity === 'error').length;
  }

  private add(severity: DataProblem['severity'], err: DataError, count: number): void {
    const { split, index, field } = err.location;
    const key = `${severity}|${err.file}|${split ?? ''}|${field ?? ''}|${err.detail.replace(/-?\d+(\.\d+)?(e[-+]?\d+)?/gi, '#')}`;
    const seen = this.byKey.get(key);
    if (seen) {
      seen.count += count;
      return;
    }
    const problem: DataProblem = { severity, message: err.message, file: err.file, count };
    if (split !== undefined) problem.split = split;
    if (index !== undefined) problem.index = index;
    if (field !== undefined) problem.field = field;
    this.problems.push(problem);
    this.byKey.set(key, problem);
  }
}
