/**
 * bench/data-load: how long a MOSEI-size MMSA pickle takes to load, and how much memory it
 * takes, relative to the file and to the arrays kept.
 *
 *   node --import tsx bench/data-load/main.ts [--preset aligned|unaligned|both] [--samples N]
 *        [--dir /tmp/mmim-data-load] [--keep]
 *
 * Presets (16326 samples, MOSEI's training-set size, split 71/8/20 as MOSEI; a 74-dim, v 35-dim):
 *   aligned    aligned_50 shapes: T 50 for both, WITH the (N, 50, 768) float32 BERT `text`
 *              features that dominate the file and that the reader must never read;
 *   unaligned  unaligned_50's T_a 375 / T_v 500, without `text` (features dominate).
 * The file is written by libs/data/fixtures/generate_fixtures.py (Debian's /usr/bin/python3 with
 * numpy) into --dir, not into the repo, and deleted afterwards unless --keep. Each load runs in
 * a fresh process so that its peak RSS (VmHWM) is its own.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
// The reader's own module, not the package entry: that one also loads TF.js (~0.6 GB RSS at
// import), which would blur the figures.
import { SPLITS, readMmsaPickle } from '@mmim/data';

const here = path.dirname(fileURLToPath(import.meta.url));
const generator = path.resolve(here, '../../libs/data/fixtures/generate_fixtures.py');

const { values: args } = parseArgs({
  options: {
    preset: { type: 'string', default: 'both' },
    samples: { type: 'string', default: '16326' },
    dir: { type: 'string', default: '/tmp/mmim-data-load' },
    keep: { type: 'boolean', default: false },
    child: { type: 'string' },
  },
});

/** kB figures of /proc/self/status (Linux); RSS from process.memoryUsage elsewhere. */
function procStatus(key: 'VmHWM' | 'VmRSS'): number {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(
      fs.readFileSync('/proc/self/status', 'utf8'),
    );
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.memoryUsage().rss;
}

const GiB = 2 ** 30;
const MiB = 2 ** 20;

interface ChildResult {
  fileBytes: number;
  keptBytes: number;
  seconds: number;
  baselineRss: number;
  peakRss: number;
  samples: number;
}

async function child(file: string): Promise<void> {
  const baselineRss = procStatus('VmRSS');
  const t0 = performance.now();
  const ds = await readMmsaPickle(file);
  const seconds = (performance.now() - t0) / 1000;
  let keptBytes = 0;
  let samples = 0;
  for (const s of SPLITS) {
    const d = ds.splits[s];
    samples += d.size;
    for (const a of [
      d.acoustic,
      d.visual,
      d.labels,
      d.bertIds,
      d.bertMask,
      d.bertTypes,
      d.acousticLengths,
      d.visualLengths,
    ]) {
      keptBytes += a.byteLength;
    }
  }
  const result: ChildResult = {
    fileBytes: fs.statSync(file).size,
    keptBytes,
    seconds,
    baselineRss,
    peakRss: procStatus('VmHWM'),
    samples,
  };
  process.stdout.write(JSON.stringify(result));
}

const PRESETS: Record<string, string[]> = {
  aligned: ['--audio-steps', '50', '--vision-steps', '50'],
  unaligned: ['--audio-steps', '375', '--vision-steps', '500', '--no-text'],
};

function run(preset: string): void {
  const flags = PRESETS[preset];
  if (!flags) throw new Error(`unknown preset ${preset}`);
  fs.mkdirSync(args.dir, { recursive: true });
  const file = path.join(args.dir, `mosei_${preset}_${args.samples}.pkl`);
  if (!fs.existsSync(file)) {
    const t = performance.now();
    execFileSync(
      '/usr/bin/python3',
      [generator, '--big', file, '--samples', args.samples, ...flags],
      { stdio: 'inherit' },
    );
    console.log(`wrote ${file} in ${((performance.now() - t) / 1000).toFixed(0)} s`);
  }
  try {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', file],
      {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      },
    );
    const r = JSON.parse(out) as ChildResult;
    const added = r.peakRss - r.baselineRss;
    console.log(
      [
        `${preset}: ${r.samples} samples, file ${(r.fileBytes / GiB).toFixed(2)} GiB, arrays kept ${(r.keptBytes / GiB).toFixed(2)} GiB`,
        `  load ${r.seconds.toFixed(1)} s (${(r.fileBytes / MiB / r.seconds).toFixed(0)} MiB/s of file)`,
        `  peak RSS ${(r.peakRss / GiB).toFixed(2)} GiB (process baseline ${(r.baselineRss / MiB).toFixed(0)} MiB)`,
        `  peak RSS / file ${(r.peakRss / r.fileBytes).toFixed(2)}, (peak - baseline) / arrays kept ${(added / r.keptBytes).toFixed(2)}`,
      ].join('\n'),
    );
  } finally {
    if (!args.keep) fs.rmSync(file, { force: true });
  }
}

if (args.child) await child(args.child);
else for (const p of args.preset === 'both' ? ['aligned', 'unaligned'] : [args.preset]) run(p);
