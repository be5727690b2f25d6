/**
 * `mmim sweep create|ls|status|pause|resume|cancel|best|gc`: the coordinator's sweeps over its
 * JSON API. Every command takes --json for scripts.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SweepRecord, TrialCounts, TrialRecord } from '@mmim/experiments';
import { formatMetric, metricInfo } from '@mmim/experiments';
import { ApiClient, resolveApiTarget } from '../cluster/api-client.js';
import { UsageError } from '../usage.js';

export { sweepGc } from './sweep-gc.js';

export interface ApiFlags {
  url?: string;
  adminTokenFile?: string;
  runDir?: string;
  json?: boolean;
}

function client(flags: ApiFlags): ApiClient {
  const target = resolveApiTarget(flags, process.env);
  return new ApiClient(target.url, target.adminToken);
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** A value of the sweep's metric as the metric table formats it (Acc-2 81.23, MAE 0.7123). */
function metricText(metric: SweepRecord['metric'], v: number | null | undefined): string {
  const info = metricInfo(metric.name.slice(metric.name.indexOf('.') + 1));
  return info === undefined ? fmt(v) : formatMetric(info, v ?? null);
}

function fmt(v: number | null | undefined, digits = 4): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits);
}

function done(c: TrialCounts): number {
  return c.completed + c.pruned + c.failed + c.cancelled;
}

function total(c: TrialCounts): number {
  return done(c) + c.queued + c.running;
}

function bar(fraction: number, width = 24): string {
  const n = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ')).join('\n');
}

export async function sweepCreate(file: string, flags: ApiFlags): Promise<void> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot read the sweep file: ${(err as Error).message}`);
  }
  const { sweep } = await client(flags).createSweep(text, file);
  if (flags.json) out(JSON.stringify(sweep));
  else
    out(
      `created sweep ${sweep.id} (${sweep.name}); follow it with: mmim sweep status ${sweep.id} --watch`,
    );
}

export async function sweepList(flags: ApiFlags): Promise<void> {
  const { sweeps } = await client(flags).sweeps();
  if (flags.json) {
    out(JSON.stringify(sweeps));
    return;
  }
  if (sweeps.length === 0) {
    out('no sweeps yet: mmim sweep create FILE');
    return;
  }
  out(
    table([
      ['ID', 'NAME', 'STATE', 'TRIALS DONE', 'RUNNING', 'QUEUED', 'BEST'],
      ...sweeps.map((s) => [
        s.id,
        s.name,
        s.state,
        `${done(s.counts)}/${total(s.counts)}`,
        String(s.counts.running),
        String(s.counts.queued),
        s.best ? `${s.metric.name} ${metricText(s.metric, s.best.value)}` : '-',
      ]),
    ]),
  );
}

function statusText(sweep: SweepRecord, counts: TrialCounts, trials: TrialRecord[]): string {
  const t = total(counts);
  const lines = [
    `sweep ${sweep.id} (${sweep.name}): ${sweep.state}`,
    `${bar(t === 0 ? 0 : done(counts) / t)} ${done(counts)}/${t} trials done; ` +
      `${counts.running} running, ${counts.queued} queued, ${counts.pruned} stopped early, ${counts.failed} failed`,
    `best ${sweep.metric.name} (${sweep.metric.goal}): ${sweep.best ? metricText(sweep.metric, sweep.best.value) : '-'}`,
    '',
  ];
  const paramNames = [...new Set(trials.flatMap((tr) => Object.keys(tr.params)))].sort();
  lines.push(
    table([
      ['#', 'TRIAL', 'STATE', 'SEED', 'EPOCHS', 'BEST', ...paramNames],
      ...trials.map((tr) => [
        String(tr.number),
        tr.id,
        tr.state,
        String(tr.seed),
        String(tr.epochs),
        metricText(sweep.metric, tr.bestValue),
        ...paramNames.map((p) => {
          const v = tr.params[p];
          return typeof v === 'number'
            ? String(Number(v.toPrecision(4)))
            : JSON.stringify(v ?? null);
        }),
      ]),
    ]),
  );
  return lines.join('\n');
}

export async function sweepStatus(
  id: string,
  flags: ApiFlags & { watch?: boolean },
): Promise<void> {
  const api = client(flags);
  for (;;) {
    const { sweep, counts } = await api.sweep(id);
    const { trials } = await api.trialsOf(id);
    if (flags.json) out(JSON.stringify({ sweep, counts, trials }));
    else {
      if (flags.watch && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
      out(statusText(sweep, counts, trials));
    }
    const ended = sweep.state === 'finished' || sweep.state === 'cancelled';
    if (!flags.watch || ended) return;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

export async function sweepAction(
  action: 'pause' | 'resume' | 'cancel',
  id: string,
  flags: ApiFlags,
): Promise<void> {
  const { sweep } = await client(flags).action(id, action);
  if (flags.json) out(JSON.stringify(sweep));
  else out(`sweep ${sweep.id}: ${sweep.state}`);
}

/** `mmim sweep delete ID --yes`: an ended sweep, its trials and their checkpoints. */
export async function sweepDelete(id: string, flags: ApiFlags & { yes?: boolean }): Promise<void> {
  if (!flags.yes) {
    throw new UsageError(
      `mmim sweep delete removes sweep ${id}'s record, its trials' and every checkpoint they ` +
        `kept, for good: add --yes to go ahead`,
    );
  }
  const { deleted } = await client(flags).deleteSweep(id);
  if (flags.json) out(JSON.stringify(deleted));
  else
    out(
      `sweep ${deleted.sweepId} deleted: ${deleted.trials} trial(s), ${deleted.checkpoints} ` +
        `checkpoint file(s), ${(deleted.freedBytes / 2 ** 20).toFixed(1)} MiB freed`,
    );
}

export interface BestReport {
  sweepId: string;
  metric: SweepRecord['metric'];
  params: Record<string, unknown>;
  mean: number;
  std: number;
  perSeed: {
    seed: number;
    trialId: string;
    state: TrialRecord['state'];
    value: number | null;
    bestEpoch: number | null;
  }[];
  checkpoints: { trialId: string; url: string; file?: string }[];
}

/** Sample standard deviation (n - 1), 0 for one value. */
function sampleStd(values: number[]): number {
  if (values.length < 2) return 0;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1));
}

export async function sweepBest(
  id: string,
  flags: ApiFlags & { download?: string },
): Promise<void> {
  const api = client(flags);
  const { sweep } = await api.sweep(id);
  if (!sweep.best) throw new Error(`sweep ${id} has no finished config yet`);
  const { trials } = await api.trialsOf(id);
  const mine = trials.filter((t) => t.configKey === sweep.best?.configKey);
  const values = mine.map((t) => t.bestValue).filter((v): v is number => v !== null);
  const report: BestReport = {
    sweepId: id,
    metric: sweep.metric,
    params: mine[0]?.params ?? {},
    mean: sweep.best.value,
    std: sampleStd(values),
    perSeed: mine.map((t) => ({
      seed: t.seed,
      trialId: t.id,
      state: t.state,
      value: t.bestValue,
      bestEpoch: t.bestEpoch,
    })),
    checkpoints: mine.map((t) => ({
      trialId: t.id,
      url: `${api.baseUrl}/api/trials/${encodeURIComponent(t.id)}/checkpoint?kind=best`,
    })),
  };
  if (flags.download !== undefined) {
    fs.mkdirSync(flags.download, { recursive: true });
    for (const c of report.checkpoints) {
      const res = await fetch(c.url);
      if (!res.ok) continue;
      const file = path.join(flags.download, `${c.trialId}.best.safetensors`);
      fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()));
      c.file = file;
    }
  }
  if (flags.json) {
    out(JSON.stringify(report));
    return;
  }
  out(`best config of sweep ${id} by ${sweep.metric.name} (${sweep.metric.goal}):`);
  for (const [k, v] of Object.entries(report.params)) out(`  ${k}: ${JSON.stringify(v)}`);
  out(
    `${sweep.metric.name}: ${metricText(sweep.metric, report.mean)} ± ${metricText(sweep.metric, report.std)} over ${values.length} seed(s)`,
  );
  for (const s of report.perSeed)
    out(
      `  seed ${s.seed}: ${metricText(sweep.metric, s.value)} (epoch ${s.bestEpoch ?? '-'}, ${s.state}, trial ${s.trialId})`,
    );
  for (const c of report.checkpoints) out(`  checkpoint: ${c.file ?? c.url}`);
}
