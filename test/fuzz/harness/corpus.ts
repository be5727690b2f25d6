/** The committed seeds of a target (test/fuzz/corpus/<target>/) and its known crashes. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Seed {
  name: string;
  bytes: Uint8Array;
}

export const CORPUS_DIR = fileURLToPath(new URL('../corpus', import.meta.url));
export const CRASHES_DIR = fileURLToPath(new URL('../crashes', import.meta.url));

function readDir(dir: string): Seed[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => !name.startsWith('.') && !name.endsWith('.md'))
    .sort()
    .map((name) => ({ name, bytes: new Uint8Array(fs.readFileSync(path.join(dir, name))) }));
}

export function loadSeeds(target: string): Seed[] {
  const seeds = readDir(path.join(CORPUS_DIR, target));
  if (seeds.length === 0) throw new Error(`no seeds in ${path.join(CORPUS_DIR, target)}`);
  return seeds;
}

/** Inputs that crashed a parser and are not fixed yet (reported, kept out of the assertions). */
export function loadCrashes(target: string): Seed[] {
  return readDir(path.join(CRASHES_DIR, target));
}
