/**
 * `mmim sweep gc ID [--dry-run]`: apply the sweep's checkpoint retention policy now (admin
 * token), or with --dry-run show what it would delete and keep, each with its reason and size.
 * The coordinator also runs it by itself every minute; this is for "why is my disk full" and
 * for freeing space at once.
 */
import { ApiClient, resolveApiTarget, type GcReport } from '../cluster/api-client.js';
import type { ApiFlags } from './sweep.js';

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** The report as text: one line per checkpoint that goes (or would go), then the kept ones. */
export function formatGcReport(r: GcReport): string {
  const lines: string[] = [];
  const verb = r.dryRun ? 'would delete' : 'deleted';
  lines.push(
    `sweep ${r.sweepId}: ${verb} ${r.drop.length} checkpoint(s) and ${r.orphans.length} orphaned file(s), ${formatBytes(r.freedBytes)}`,
  );
  for (const d of r.drop) {
    lines.push(
      `  - ${d.trialId} ${d.kind.padEnd(4)} ${formatBytes(d.bytes).padStart(10)}  ${d.reason}`,
    );
  }
  for (const o of r.orphans) {
    lines.push(`  - ${o.key} ${formatBytes(o.bytes)}  no record names it (a crashed write)`);
  }
  if (r.keep.length > 0) lines.push(`keeps ${r.keep.length}:`);
  for (const d of r.keep) {
    lines.push(
      `  + ${d.trialId} ${d.kind.padEnd(4)} ${formatBytes(d.bytes).padStart(10)}  ${d.reason}`,
    );
  }
  return lines.join('\n');
}

export async function sweepGc(id: string, flags: ApiFlags & { dryRun?: boolean }): Promise<void> {
  const target = resolveApiTarget(flags, process.env);
  const { gc } = await new ApiClient(target.url, target.adminToken).gc(id, flags.dryRun === true);
  process.stdout.write(`${flags.json ? JSON.stringify(gc) : formatGcReport(gc)}\n`);
}
