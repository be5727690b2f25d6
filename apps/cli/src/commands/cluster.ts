/**
 * `mmim up`, `mmim coordinator`, `mmim worker`, and `mmim train --workers K`: the cluster roles
 * and a whole local cluster.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { EpochEntry, TrialRecord } from '@mmim/experiments';
import { LocalCluster } from '../cluster/local-cluster.js';
import type { ApiClient } from '../cluster/api-client.js';

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Stops the cluster on Ctrl-C / SIGTERM, once; resolves when asked to stop. */
function onStopSignal(cluster: LocalCluster): Promise<string> {
  return new Promise((resolve) => {
    const handler = (signal: string): void => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
      resolve(signal);
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
    void cluster;
  });
}

export interface UpOptions {
  workers: number;
  redis?: string;
  runDir: string;
  port?: number;
  httpPort?: number;
  sweep?: string;
  exitWhenDone?: boolean;
  backend?: string;
  json?: boolean;
}

async function watchSweep(api: ApiClient, id: string, json: boolean): Promise<void> {
  let last = '';
  for (;;) {
    const { sweep, counts } = await api.sweep(id);
    const ended = counts.completed + counts.pruned + counts.failed + counts.cancelled;
    const all = ended + counts.queued + counts.running;
    const line =
      `sweep ${sweep.id}: ${sweep.state}; ${ended}/${all} trials done ` +
      `(${counts.running} running, ${counts.pruned} stopped early, ${counts.failed} failed); ` +
      `best ${sweep.metric.name} ${sweep.best ? sweep.best.value.toFixed(4) : '-'}`;
    if (line !== last) {
      out(
        json
          ? JSON.stringify({
              event: 'sweep',
              sweep: sweep.id,
              state: sweep.state,
              counts,
              best: sweep.best,
            })
          : line,
      );
      last = line;
    }
    if (sweep.state === 'finished' || sweep.state === 'cancelled') return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function runUp(o: UpOptions): Promise<void> {
  const httpPort = o.httpPort ?? ((await portFree(8080)) ? 8080 : 0);
  const cluster = await LocalCluster.start({
    workers: o.workers,
    ...(o.redis === undefined ? {} : { redisUrl: o.redis }),
    runDir: o.runDir,
    ...(o.port === undefined ? {} : { port: o.port }),
    httpPort,
    ...(o.backend === undefined ? {} : { backend: o.backend }),
    say: o.json ? undefined : out,
  });
  const stopped = onStopSignal(cluster);
  try {
    if (o.json) {
      out(
        JSON.stringify({
          event: 'up',
          grpc: cluster.grpcAddress,
          http: cluster.httpUrl,
          workers: o.workers,
        }),
      );
    } else {
      out(`workers    ${o.workers} (logs in ${path.join(o.runDir, 'logs')})`);
      out(
        `admin token in ${cluster.adminTokenFile} (needed to pause/resume/cancel from the dashboard)`,
      );
    }
    if (o.sweep !== undefined) {
      const text = fs.readFileSync(o.sweep, 'utf8');
      const { sweep } = await cluster.api.createSweep(text);
      if (!o.json)
        out(`sweep      ${sweep.id} started: open ${cluster.httpUrl}/#/sweeps/${sweep.id}`);
      const finished = watchSweep(cluster.api, sweep.id, o.json ?? false);
      const which = await Promise.race([finished.then(() => 'done'), stopped]);
      if (which === 'done') {
        const { sweep: s } = await cluster.api.sweep(sweep.id);
        if (!o.json && s.best) {
          out(
            `best ${s.metric.name}: ${s.best.value.toFixed(4)} (config ${s.best.configKey}); details: mmim sweep best ${s.id} --run-dir ${o.runDir}`,
          );
        }
        if (o.exitWhenDone) return;
        if (!o.json) out('sweep done; the cluster stays up until Ctrl-C');
      } else return;
    } else if (!o.json) {
      out('cluster up; Ctrl-C stops everything');
    }
    await stopped;
  } finally {
    if (!o.json) out('stopping the cluster...');
    await cluster.stop();
  }
}

export interface DistributedTrainOptions {
  workers: number;
  data: Record<string, unknown>;
  trainer: Record<string, unknown>;
  seed: number;
  runDir: string;
  redis?: string;
  backend?: string;
  json?: boolean;
}

/** One trial data-parallel on K local workers; prints each epoch; exit code from the outcome. */
export async function runDistributedTrain(o: DistributedTrainOptions): Promise<void> {
  const cluster = await LocalCluster.start({
    workers: o.workers,
    ...(o.redis === undefined ? {} : { redisUrl: o.redis }),
    runDir: o.runDir,
    httpPort: 0,
    ...(o.backend === undefined ? {} : { backend: o.backend }),
    say: o.json ? undefined : out,
  });
  const stopped = onStopSignal(cluster);
  try {
    const { trial } = await cluster.api.createTrial({
      data: o.data,
      trainer: o.trainer,
      seed: o.seed,
      workers: o.workers,
      name: 'train',
    });
    if (!o.json)
      out(`trial ${trial.id} on ${o.workers} worker(s): ${cluster.httpUrl}/#/trials/${trial.id}`);
    let seen = 0;
    let final: TrialRecord | null = null;
    const poll = async (): Promise<TrialRecord> => {
      for (;;) {
        const { trial: t, epochs } = await cluster.api.trial(trial.id);
        for (const e of epochs.slice(seen)) printEpoch(e, o.json ?? false);
        seen = epochs.length;
        if (['completed', 'pruned', 'failed', 'cancelled'].includes(t.state)) return t;
        await new Promise((r) => setTimeout(r, 1000));
      }
    };
    const result = await Promise.race([poll(), stopped.then(() => null)]);
    if (result === null) return;
    final = result;
    if (o.json) out(JSON.stringify({ event: 'trial', trial: final }));
    else
      out(
        `trial ${final.id}: ${final.state}; best valid MAE ${final.bestValue?.toFixed(4) ?? '-'} (epoch ${final.bestEpoch ?? '-'})`,
      );
    if (final.state === 'failed') {
      throw new Error(
        `trial ${final.id} failed: ${final.error ?? 'unknown error'} (logs in ${path.join(o.runDir, 'logs')})`,
      );
    }
  } finally {
    await cluster.stop();
  }
}

function printEpoch(e: EpochEntry, json: boolean): void {
  if (json) {
    out(JSON.stringify({ event: 'epoch', ...e }));
    return;
  }
  out(
    `epoch ${e.epoch} | train ${e.trainLoss.stage1.toFixed(4)} | valid MAE ${e.valid.mae.toFixed(4)} ` +
      `Acc-2 ${(e.valid.acc2 * 100).toFixed(1)}% | test MAE ${e.test.mae.toFixed(4)} | ${e.seconds.toFixed(1)} s`,
  );
}
