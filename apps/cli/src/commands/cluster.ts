/**
 * `mmim up`, `mmim coordinator`, `mmim worker`, and `mmim train --workers K`: the cluster roles
 * and a whole local cluster.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { EpochEntry, TrialRecord } from '@mmim/experiments';
import { saveMmimStateDict } from '@mmim/model';
import { loadTrainingCheckpoint, type SentimentMetrics } from '@mmim/trainer';
import { LocalCluster, StartAborted, type LocalClusterOptions } from '../cluster/local-cluster.js';
import {
  describeSupervision,
  supervisionRecord,
  type SupervisionEvent,
} from '../cluster/supervisor.js';
import { ApiError, type ApiClient } from '../cluster/api-client.js';
import { bestTestReport } from '../output/best-test.js';
import { meanStd, meanStdTable, metricsTable } from '../output/metrics-table.js';
import { seedSavePath } from './shared.js';

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

/**
 * Ctrl-C / SIGTERM from now on, once: aborts a start in progress (so that the children started
 * so far are stopped, not orphaned) and resolves with the signal.
 */
function listenForStop(): { signalled: Promise<string>; abort: AbortSignal; off: () => void } {
  const controller = new AbortController();
  let off = (): void => {};
  const signalled = new Promise<string>((resolve) => {
    const handler = (signal: string): void => {
      off();
      controller.abort();
      resolve(signal);
    };
    off = () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
  return { signalled, abort: controller.signal, off };
}

/**
 * Starts a supervised local cluster, hearing Ctrl-C from the first moment. `stopped` resolves on
 * Ctrl-C / SIGTERM or rejects when the supervisor gave up on a child; either way the caller
 * stops the cluster. Null: stopped before the cluster was up (everything started is stopped).
 */
async function startSupervised(
  options: LocalClusterOptions,
  json: boolean,
): Promise<{ cluster: LocalCluster; stopped: Promise<string> } | null> {
  const stop = listenForStop();
  let cluster: LocalCluster;
  try {
    cluster = await LocalCluster.start({
      ...options,
      supervise: true,
      onSupervision: reportSupervision(json),
      abort: stop.abort,
    });
  } catch (err) {
    stop.off();
    if (!(err instanceof StartAborted)) throw err;
    out(json ? JSON.stringify({ event: 'stopped', before: 'up' }) : err.message);
    return null;
  }
  return { cluster, stopped: untilStopped(cluster, stop.signalled) };
}

function untilStopped(cluster: LocalCluster, signalled: Promise<string>): Promise<string> {
  const gaveUp = cluster.gaveUp.then((e) => {
    throw new Error(
      `${e.child} failed ${e.failures} times in a row; the cluster was stopped (log: ${e.log})`,
    );
  });
  const stopped = Promise.race([signalled, gaveUp]);
  // Handled here, awaited later: a give-up before anyone awaits must not crash the CLI.
  stopped.catch(() => {});
  return stopped;
}

/**
 * A read from the coordinator that waits out its restart: unreachable means it is coming back
 * (the supervisor stops the cluster, and so this wait, if it never does).
 */
async function throughRestarts<T>(cluster: LocalCluster, read: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await read();
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 0) || cluster.stopping) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** Supervision events on the console: one line each, or one JSON object with --json. */
function reportSupervision(json: boolean): (e: SupervisionEvent) => void {
  return (e) => out(json ? JSON.stringify(supervisionRecord(e)) : describeSupervision(e));
}

export interface UpOptions {
  workers: number;
  redis?: string;
  /** 'auto' or a URL: a second Redis for the per-step exchange (docs/distributed.md). */
  exchangeRedis?: string;
  runDir: string;
  port?: number;
  httpPort?: number;
  sweep?: string;
  exitWhenDone?: boolean;
  backend?: string;
  json?: boolean;
}

async function watchSweep(cluster: LocalCluster, id: string, json: boolean): Promise<void> {
  let last = '';
  for (;;) {
    const { sweep, counts } = await throughRestarts(cluster, () => cluster.api.sweep(id));
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
  const up = await startSupervised(
    {
      workers: o.workers,
      ...(o.redis === undefined ? {} : { redisUrl: o.redis }),
      ...(o.exchangeRedis === undefined ? {} : { exchangeRedis: o.exchangeRedis }),
      runDir: o.runDir,
      ...(o.port === undefined ? {} : { port: o.port }),
      httpPort,
      ...(o.backend === undefined ? {} : { backend: o.backend }),
      say: o.json ? undefined : out,
    },
    o.json ?? false,
  );
  if (up === null) return;
  const { cluster, stopped } = up;
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
      const { sweep } = await cluster.api.createSweep(text, o.sweep);
      if (!o.json)
        out(`sweep      ${sweep.id} started: open ${cluster.httpUrl}/#/sweeps/${sweep.id}`);
      const finished = watchSweep(cluster, sweep.id, o.json ?? false);
      const which = await Promise.race([finished.then(() => 'done'), stopped]);
      if (which === 'done') {
        const { sweep: s } = await throughRestarts(cluster, () => cluster.api.sweep(sweep.id));
        if (!o.json && s.best) {
          out(
            `best ${s.metric.name}: ${s.best.value.toFixed(4)} (config ${s.best.configKey}); details: mmim sweep best ${s.id} --run-dir ${o.runDir}`,
          );
          for (const line of await bestTestReport(cluster.api, s)) out(line);
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
  /** One trial per seed, one after the other (mean ± std over them, as `mmim train --seeds`). */
  seeds: number[];
  runDir: string;
  /** BERT config overrides (`--bert-config`'s file, read here). */
  bert?: Record<string, unknown>;
  /** Where training starts: `bertDir`, `init`, `resume` (absolute paths every worker reads). */
  start?: Record<string, string>;
  /** Write each seed's final weights here, as `mmim train --save` does. */
  save?: string;
  redis?: string;
  /** 'auto' or a URL: a second Redis for the per-step exchange (docs/distributed.md). */
  exchangeRedis?: string;
  backend?: string;
  json?: boolean;
}

/**
 * One trial per seed, data-parallel on K local workers; prints each epoch and the selected
 * epoch's test metrics (mean ± std over seeds); `--save` writes the final weights from the
 * trial's last checkpoint. Exit code from the outcome.
 */
export async function runDistributedTrain(o: DistributedTrainOptions): Promise<void> {
  const up = await startSupervised(
    {
      workers: o.workers,
      ...(o.redis === undefined ? {} : { redisUrl: o.redis }),
      ...(o.exchangeRedis === undefined ? {} : { exchangeRedis: o.exchangeRedis }),
      runDir: o.runDir,
      httpPort: 0,
      ...(o.backend === undefined ? {} : { backend: o.backend }),
      say: o.json ? undefined : out,
    },
    o.json ?? false,
  );
  if (up === null) return;
  const { cluster, stopped } = up;
  const results: SentimentMetrics[] = [];
  try {
    for (const seed of o.seeds) {
      const done = await trainOneSeed(cluster, o, seed, stopped);
      if (done === null) return;
      results.push(done);
    }
    if (results.length > 1) {
      if (o.json)
        out(JSON.stringify({ event: 'result', seeds: o.seeds, meanStd: meanStd(results) }));
      else
        out(`test metrics over seeds ${o.seeds.join(', ')} (mean ± std)\n${meanStdTable(results)}`);
    }
  } finally {
    await cluster.stop();
  }
}

/** One seed's trial: its epochs, outcome, selected test metrics and `--save` file (null: stopped). */
async function trainOneSeed(
  cluster: LocalCluster,
  o: DistributedTrainOptions,
  seed: number,
  stopped: Promise<string>,
): Promise<SentimentMetrics | null> {
  const { trial } = await cluster.api.createTrial({
    data: o.data,
    trainer: o.trainer,
    seed,
    workers: o.workers,
    name: o.seeds.length > 1 ? `train-seed-${seed}` : 'train',
    ...(o.bert === undefined ? {} : { bert: o.bert }),
    ...(o.start === undefined ? {} : { start: o.start }),
  });
  if (!o.json)
    out(`trial ${trial.id} on ${o.workers} worker(s): ${cluster.httpUrl}/#/trials/${trial.id}`);
  let seen = 0;
  let epochs: EpochEntry[] = [];
  const poll = async (): Promise<TrialRecord> => {
    for (;;) {
      const r = await throughRestarts(cluster, () => cluster.api.trial(trial.id));
      epochs = r.epochs;
      for (const e of r.epochs.slice(seen)) printEpoch(e, o.json ?? false);
      seen = r.epochs.length;
      if (['completed', 'pruned', 'failed', 'cancelled'].includes(r.trial.state)) return r.trial;
      await new Promise((res) => setTimeout(res, 1000));
    }
  };
  const final = await Promise.race([poll(), stopped.then(() => null)]);
  if (final === null) return null;
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
  if (o.save !== undefined) await saveFinalWeights(cluster.api, final, o, seed);
  const selected = epochs.find((e) => e.epoch === final.bestEpoch);
  if (selected === undefined)
    throw new Error(`seed ${seed}: no epoch was selected (no finite valid loss)`);
  const test = selected.test as unknown as SentimentMetrics;
  if (o.json) out(JSON.stringify({ event: 'result', seed, bestEpoch: final.bestEpoch, test }));
  else out(`seed ${seed}: best epoch ${final.bestEpoch}\n${metricsTable(test)}`);
  return test;
}

/**
 * `--save`: the weights after the last epoch, from the trial's last checkpoint in Redis, written
 * exactly as a one-worker `mmim train --save` writes them (reference names, config, epoch, seed).
 */
async function saveFinalWeights(
  api: ApiClient,
  trial: TrialRecord,
  o: DistributedTrainOptions,
  seed: number,
): Promise<void> {
  const target = seedSavePath(o.save ?? '', seed, o.seeds.length);
  const bytes = await api.checkpoint(trial.id, 'last');
  if (bytes === null)
    throw new Error(`trial ${trial.id} left no checkpoint: --save ${target} not written`);
  const tmp = path.join(o.runDir, `${trial.id}.last.safetensors`);
  fs.mkdirSync(path.dirname(tmp), { recursive: true });
  fs.writeFileSync(tmp, bytes);
  try {
    const ckpt = await loadTrainingCheckpoint(tmp);
    const weights = new Map([...ckpt.weights].map(([name, w]) => [name, w.data]));
    fs.mkdirSync(path.dirname(path.resolve(target)), { recursive: true });
    await saveMmimStateDict(target, ckpt.modelConfig, weights, {
      epoch: String(ckpt.state.epoch),
      seed: String(seed),
    });
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  if (!o.json) out(`saved ${target}`);
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
