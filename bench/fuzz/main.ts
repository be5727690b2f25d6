/**
 * The long fuzz run: every parser of outside input for `--seconds` each (in a sandbox child, so a
 * parser that aborts the process is caught and the run goes on), then the coordinator's gRPC
 * handlers through the real server. Prints executions, exec/s and crashes per target.
 *
 *   npm run fuzz -- --seconds 60 [--targets pickle,sweep-yaml,grpc] [--seed 1] [--save]
 *
 * `--save` writes each new crash input to test/fuzz/crashes/<target>/ (see its README).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { fuzzFor, type CampaignStats } from '../../test/fuzz/harness/campaign.js';
import { TARGET_NAMES, disposeScratch, loadTarget } from '../../test/fuzz/targets/index.js';
import { fuzzGrpcFor, type GrpcFuzzStats } from './grpc.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    targets: { type: 'string', default: [...TARGET_NAMES, 'grpc'].join(',') },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    save: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const seed = Number(values.seed);
if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, got ${values.seconds}`);
if (!Number.isSafeInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
const targets = (values.targets ?? '').split(',').filter((t) => t !== '');
const CRASHES = fileURLToPath(new URL('../../test/fuzz/crashes', import.meta.url));

console.log(`fuzz: ${seconds} s per target, seed ${seed}, targets ${targets.join(', ')}`);
const rows: string[][] = [];
let newCrashes = 0;

function saveCrash(target: string, bytes: Uint8Array): string {
  const dir = path.join(CRASHES, target);
  fs.mkdirSync(dir, { recursive: true });
  const name = `crash-${crypto.createHash('sha256').update(bytes).digest('hex').slice(0, 12)}.bin`;
  fs.writeFileSync(path.join(dir, name), bytes);
  return path.join(dir, name);
}

function row(s: CampaignStats | GrpcFuzzStats, extra: string): string[] {
  return [
    s.target,
    String(s.executions),
    (s.executions / Math.max(s.seconds, 1e-9)).toFixed(0),
    String(s.crashes.size),
    String(s.knownCrashes),
    extra,
  ];
}

for (const name of targets) {
  if (name === 'grpc') {
    const s = await fuzzGrpcFor(seconds, seed);
    rows.push(row(s, `statuses ${[...s.codes].map(([c, n]) => `${c}:${n}`).join(' ')}`));
    for (const [sig, reason] of s.crashes) console.log(`  NEW CRASH ${sig}\n    ${reason}`);
    newCrashes += s.crashes.size;
    continue;
  }
  const target = await loadTarget(name);
  const s = await fuzzFor(target, seconds, seed);
  rows.push(
    row(
      s,
      `parsed ${s.values}, refused ${s.refused}, slowest ${s.maxMs.toFixed(0)} ms, child restarts ${s.restarts}`,
    ),
  );
  for (const [sig, c] of s.crashes) {
    newCrashes += 1;
    console.log(
      `  NEW CRASH ${sig}\n    from ${c.input.origin}, ${c.input.bytes.length} bytes, mutations ${JSON.stringify(c.input.mutations, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? [...v] : v)).slice(0, 400)}`,
    );
    console.log(`    ${c.stack.split('\n').slice(0, 6).join('\n    ')}`);
    if (values.save) console.log(`    saved to ${saveCrash(name, c.input.bytes)}`);
  }
}
disposeScratch();

const header = ['target', 'executions', 'exec/s', 'new crashes', 'known crashes', 'notes'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
const fmt = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
console.log(`\n${fmt(header)}\n${rows.map(fmt).join('\n')}`);
process.exitCode = newCrashes > 0 ? 1 : 0;
