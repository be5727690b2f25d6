/**
 * The label CSVs that come with the MMIM repo's pickles (`MOSI-label.csv`, `MOSEI-label.csv`,
 * MMSA's `label.csv`): a header row, then `video_id, clip_id, text, ...`. Parsed with
 * csv-parse (quoted fields with commas, quotes and newlines occur in the text column).
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { DataError } from '../types.js';

export interface LabelRow {
  videoId: string;
  /** As the reference compares it: `str(clip_id)` of the value pandas parsed (so '01' is '1'). */
  clipId: string;
  text: string;
  /** Every column as written, for anything else (label, mode, ...). */
  raw: Record<string, string>;
}

export function readLabelCsv(path: string): LabelRow[] {
  let records: Record<string, string>[];
  try {
    records = parse(readFileSync(path), {
      columns: true,
      skip_empty_lines: true,
      bom: true,
      trim: false,
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new DataError(path, `cannot read the label CSV: ${message}`);
  }
  const first = records[0];
  if (!first) throw new DataError(path, 'the label CSV has no rows');
  for (const column of ['video_id', 'clip_id', 'text']) {
    if (!(column in first)) {
      throw new DataError(
        path,
        `the label CSV has no '${column}' column (columns: ${Object.keys(first).join(', ')})`,
        {
          field: column,
        },
      );
    }
  }
  return records.map((raw) => ({
    videoId: raw.video_id ?? '',
    clipId: pandasIntString(raw.clip_id ?? ''),
    text: raw.text ?? '',
    raw,
  }));
}

/** pandas reads an all-integer column as int64, so `str(cid)` drops leading zeros and '+'. */
function pandasIntString(value: string): string {
  return /^\s*[-+]?\d+\s*$/.test(value) ? String(BigInt(value.trim())) : value;
}
