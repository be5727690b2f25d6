/** Scratch files: the file-reading parsers get the fuzz input the way users' files reach them. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A sandbox child writes into the folder its parent made (and removes, even if the child dies). */
const GIVEN = process.env['MMIM_FUZZ_SCRATCH'];

let scratchDir: string | null = null;

/** A file holding `bytes` with `ext`; one per extension, overwritten by each call. */
export function scratchFile(ext: string, bytes: Uint8Array): string {
  scratchDir ??= GIVEN ?? fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-fuzz-'));
  const file = path.join(scratchDir, `input${ext}`);
  fs.writeFileSync(file, bytes);
  return file;
}

/** Removes the scratch files; safe to call twice. */
export function disposeScratch(): void {
  if (scratchDir !== null && scratchDir !== GIVEN)
    fs.rmSync(scratchDir, { recursive: true, force: true });
  scratchDir = null;
}
