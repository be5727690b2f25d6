/**
 * What every reader shares: options, and the checks and repairs applied to a split's columns
 * in place (no copies: a MOSEI split's acoustic column alone is GBs).
 */
import { DataError, type ReadNotes, type SplitData, type SplitName } from '../types.js';
import { ProblemLog } from './problems.js';

/** BERT inputs for one text, already padded or truncated to the text length (50). */
export type Tokenize = (text: string) => { ids: Int32Array; mask: Int32Array; types: Int32Array };

export interface ReadOptions {
  /**
   * Tokenises raw text into BERT inputs. Used when a file has no token ids (`text_bert`), and
   * always for MMIM-repo pickles and .csd files, whose text is words.
   */
  tokenize?: Tokenize;
  /**
   * Set NaN/Inf feature values to 0 (the reference's `np.nan_to_num`, except that ±Inf becomes
   * 0 rather than ±3.4e38) and count them in `notes.nonFiniteZeroed`. Default false: they are
   * an error naming the first sample.
   */
  sanitize?: boolean;
  /**
   * Token positions per sample. Default: the file's own when it stores token ids (CH-SIMS's
   * `text_bert` has 39), else 50 as the reference.
   */
  textLength?: number;
  /** Where problems go; default: throw the first error. `inspectDataset` passes a collecting log. */
  problems?: ProblemLog;
}

export const DEFAULT_TEXT_LENGTH = 50;

export function emptyNotes(): ReadNotes {
  return {
    nonFiniteZeroed: 0,
    negInfAcousticZeroed: 0,
    zeroLengthsRaised: 0,
    paddingZeroed: 0,
    warnings: [],
  };
}

/** The reading context of one file. */
export interface ReadContext {
  file: string;
  sanitize: boolean;
  textLength: number;
  /** False when textLength is the default, which a file's own token ids may override. */
  textLengthGiven: boolean;
  problems: ProblemLog;
  notes: ReadNotes;
  tokenize: Tokenize | undefined;
}

export function readContext(file: string, options: ReadOptions): ReadContext {
  const textLength = options.textLength ?? DEFAULT_TEXT_LENGTH;
  if (!Number.isInteger(textLength) || textLength < 2)
    throw new RangeError(`textLength ${textLength} must be an integer >= 2`);
  return {
    file,
    sanitize: options.sanitize ?? false,
    textLength,
    textLengthGiven: options.textLength !== undefined,
    problems: options.problems ?? new ProblemLog('throw'),
    notes: emptyNotes(),
    tokenize: options.tokenize,
  };
}

/** A (N, T, d) feature column with its name in the source file, for messages. */
export interface Column {
  data: Float32Array;
  steps: number;
  dim: number;
  field: string;
}

/**
 * NaN/Inf values: an error naming the first sample, or (sanitize) zeroed and counted. In
 * collect mode they are also zeroed, so that the statistics that follow stay meaningful.
 */
export function checkFinite(ctx: ReadContext, split: SplitName, col: Column): void {
  const { data, steps, dim } = col;
  const per = steps * dim;
  let count = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (v - v !== 0) {
      // NaN or ±Inf (v - v is NaN for both)
      if (first < 0) first = i;
      count++;
      data[i] = 0;
    }
  }
  if (count === 0) return;
  const index = Math.floor(first / per);
  if (ctx.sanitize) {
    ctx.notes.nonFiniteZeroed += count;
    return;
  }
  const where = `step ${Math.floor((first % per) / dim)}, feature ${first % dim}`;
  ctx.problems.error(
    new DataError(
      ctx.file,
      `${count} NaN/Inf feature value(s), first at ${where} (pass sanitize: true to zero them)`,
      {
        split,
        index,
        field: col.field,
      },
    ),
    count,
  );
}

/**
 * Validates lengths against the padded length, raises 0 to 1 (as the reference), and zeroes
 * anything after each length so that the layout's "zeros after the length" holds.
 */
export function applyLengths(
  ctx: ReadContext,
  split: SplitName,
  col: Column,
  lengths: Int32Array,
  field: string,
): void {
  const { data, steps, dim } = col;
  for (let i = 0; i < lengths.length; i++) {
    let len = lengths[i] as number;
    if (len < 0 || len > steps) {
      ctx.problems.error(
        new DataError(
          ctx.file,
          `length ${len} is outside [0, ${steps}] (the padded length of '${col.field}')`,
          {
            split,
            index: i,
            field,
          },
        ),
      );
      len = Math.min(Math.max(len, 0), steps);
    }
    if (len === 0) {
      len = 1;
      ctx.notes.zeroLengthsRaised++;
    }
    lengths[i] = len;
    const base = i * steps * dim;
    const end = base + steps * dim;
    for (let j = base + len * dim; j < end; j++) {
      if (data[j] !== 0) {
        ctx.notes.paddingZeroed++;
        data[j] = 0;
      }
    }
  }
}

/** Labels must be finite and in [-3, 3] (MOSI/MOSEI; CH-SIMS uses [-1, 1]). */
export function checkLabels(
  ctx: ReadContext,
  split: SplitName,
  labels: Float32Array,
  field: string,
): void {
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i] as number;
    if (!(v >= -3 && v <= 3)) {
      ctx.problems.error(
        new DataError(ctx.file, `label ${v} is outside [-3, 3]`, { split, index: i, field }),
      );
    }
  }
}

/** BERT inputs of a split from raw texts through the injected tokenizer. */
export function tokenizeTexts(
  ctx: ReadContext,
  split: SplitName,
  texts: readonly string[],
  field: string,
): { ids: Int32Array; mask: Int32Array; types: Int32Array } {
  const L = ctx.textLength;
  const out = {
    ids: new Int32Array(texts.length * L),
    mask: new Int32Array(texts.length * L),
    types: new Int32Array(texts.length * L),
  };
  const tokenize = ctx.tokenize;
  if (!tokenize) {
    ctx.problems.error(
      new DataError(
        ctx.file,
        'no token ids in the file and no tokenizer given (options.tokenize)',
        { split, field },
      ),
    );
    return out;
  }
  texts.forEach((text, i) => {
    const t = tokenize(text);
    for (const [name, arr] of Object.entries(t)) {
      if (arr.length !== L) {
        throw new DataError(
          ctx.file,
          `tokenizer returned ${arr.length} ${name} for a text length of ${L}`,
          {
            split,
            index: i,
            field,
          },
        );
      }
    }
    out.ids.set(t.ids, i * L);
    out.mask.set(t.mask, i * L);
    out.types.set(t.types, i * L);
  });
  return out;
}

/** Checks that every column has N rows. */
export function checkRows(
  ctx: ReadContext,
  split: SplitName,
  expected: number,
  rows: number,
  field: string,
): void {
  if (rows !== expected) {
    throw new DataError(ctx.file, `has ${rows} rows, the split has ${expected} samples`, {
      split,
      field,
    });
  }
}

export interface SplitColumns {
  ids: string[];
  texts: string[];
  tokens: { ids: Int32Array; mask: Int32Array; types: Int32Array };
  visual: Column;
  visualLengths: Int32Array;
  acoustic: Column;
  acousticLengths: Int32Array;
  labels: Float32Array;
}

export function splitData(ctx: ReadContext, name: SplitName, c: SplitColumns): SplitData {
  return {
    name,
    size: c.labels.length,
    ids: c.ids,
    texts: c.texts,
    textLength: ctx.textLength,
    bertIds: c.tokens.ids,
    bertMask: c.tokens.mask,
    bertTypes: c.tokens.types,
    visual: c.visual.data,
    visualSteps: c.visual.steps,
    visualDim: c.visual.dim,
    visualLengths: c.visualLengths,
    acoustic: c.acoustic.data,
    acousticSteps: c.acoustic.steps,
    acousticDim: c.acoustic.dim,
    acousticLengths: c.acousticLengths,
    labels: c.labels,
  };
}

/** Feature widths must agree across splits: a model has one input size per modality. */
export function checkSameDims(ctx: ReadContext, splits: readonly SplitData[]): void {
  const first = splits[0];
  if (!first) return;
  for (const s of splits.slice(1)) {
    for (const [field, dim] of [
      ['visual', s.visualDim],
      ['acoustic', s.acousticDim],
    ] as const) {
      const want = field === 'visual' ? first.visualDim : first.acousticDim;
      if (dim !== want) {
        ctx.problems.error(
          new DataError(
            ctx.file,
            `${field} features are ${dim}-wide here but ${want}-wide in '${first.name}'`,
            {
              split: s.name,
              field,
            },
          ),
        );
      }
    }
  }
}

/** 'mosi', 'mosei', 'sims' from a path or, failing that, from the feature widths. */
export function guessName(path: string, acousticDim: number, visualDim: number): string {
  const lower = path.toLowerCase();
  if (lower.includes('mosei')) return 'mosei';
  if (lower.includes('mosi')) return 'mosi';
  if (lower.includes('sims')) return 'sims';
  if (acousticDim === 74 && visualDim === 35) return 'mosei';
  if (acousticDim === 5 && visualDim === 20) return 'mosi';
  if (acousticDim === 33 && visualDim === 709) return 'sims';
  return path.split(/[\\/]/).pop() ?? path;
}
