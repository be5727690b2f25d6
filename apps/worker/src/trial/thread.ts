/**
 * The trial thread (a `worker_threads` Worker started by TrialRunner ahead of its trial: loading
 * this code and the TF.js backend takes seconds, which a spare thread spends before the
 * assignment arrives). On its one StartTrial message it prepares the trial from
 * its spec, joins the rank group over Redis, resumes from the trial's last checkpoint in Redis
 * when there is one, trains, and reports to the main thread by message. All TF.js work happens
 * here, so the main thread's heartbeats never wait for a step.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { CheckpointStore, StaleAttemptError } from '@mmim/experiments';
import { LiveStateStore, RedisCollectives } from '@mmim/param-server';
import { createLogger, initBackend } from '@mmim/runtime';
import {
  Trainer,
  parseTrialSpec,
  prepareTrial,
  type TrainResult,
  type TrainerEvent,
  type TrainerOptions,
} from '@mmim/trainer';
import { ShardedRedisRankGroup } from '../dp/sharded-rank-group.js';
import type {
  CurvePoint,
  StartTrial,
  ThreadBoot,
  ThreadInit,
  ThreadMessage,
  TrialSummary,
} from './messages.js';

const port = parentPort;
if (port === null) throw new Error('trial/thread.ts runs only as a worker thread');
const post = (m: ThreadMessage): void => port.postMessage(m);
const boot = workerData as ThreadBoot;
const log = createLogger('trial-thread');
const backendReady = initBackend({ backend: boot.backend });
backendReady.then(
  () => post({ type: 'ready' }),
  () => undefined, // reported by run() when a trial needs the backend
);

/** Runs the trial to its end; resolves with rank 0's summary (every rank computes it). */
async function run(init: ThreadInit): Promise<TrialSummary> {
  await backendReady;
  const spec = parseTrialSpec(init.configJson);
  if (spec.trialId !== init.trialId) {
    throw new Error(
      `config_json names trial '${spec.trialId}' but AssignTrial names '${init.trialId}'`,
    );
  }
  if (init.worldSize > 1 && init.redisUrl === null)
    throw new Error(
      `trial ${spec.trialId} has ${init.worldSize} ranks: the worker needs --redis URL`,
    );
  const prepared = await prepareTrial(spec, { cacheDir: path.join(init.runDir, 'data-cache') });
  const dir = path.join(init.runDir, 'trials', `${spec.trialId}.a${spec.attempt}.r${init.rank}`);
  fs.mkdirSync(dir, { recursive: true });

  // Connection errors (a Redis restarting) go to the log as JSON; ioredis reconnects by itself,
  // and a collective that cannot finish fails the trial with its own error.
  const watched = (r: Redis): Redis =>
    r.on('error', (err) => log.warn({ err }, 'redis connection error'));
  const redis = init.redisUrl === null ? null : watched(new Redis(init.redisUrl));
  // The per-step exchange: on its own Redis when given (no AOF needed: it is recomputable).
  const exchangeUrl = init.exchangeRedisUrl ?? init.redisUrl;
  const multiRank = exchangeUrl !== null && init.worldSize > 1;
  const exchange = !multiRank
    ? null
    : init.exchangeRedisUrl === null
      ? redis
      : watched(new Redis(exchangeUrl));
  const blocking = !multiRank ? null : watched(new Redis(exchangeUrl));
  try {
    const store = redis === null ? null : new CheckpointStore(redis);
    if (store !== null && init.rank === 0) {
      // From now on the trial's older attempts may not write checkpoints (a rank cut off by a
      // partition whose link comes back after its group was re-formed); and if a newer attempt
      // already started, this one is the stale one.
      const newest = await store.fence(spec.trialId, spec.attempt);
      if (newest > spec.attempt) throw new StaleAttemptError(spec.trialId, spec.attempt);
    }
    let group: ShardedRedisRankGroup | null = null;
    if (exchange !== null && blocking !== null) {
      // A fresh namespace per attempt: a dead group's leftover parts never mix with this one's.
      const collectives = new RedisCollectives(
        exchange,
        blocking,
        `${spec.trialId}.a${spec.attempt}`,
        init.rank,
        init.worldSize,
        { timeoutMs: init.collectiveTimeoutMs },
      );
      // The live model state (parameters, Adam moments, the cursor) lives next to the exchange:
      // it survives a worker's loss; the durable Redis keeps the epoch checkpoints.
      group = new ShardedRedisRankGroup(
        collectives,
        new LiveStateStore(exchange, spec.trialId, spec.attempt),
        prepared.bert.hidden_size,
        { compression: spec.exchange?.compression ?? 'none' },
      );
      // Every rank reads where to resume only after rank 0 fenced off the older attempts (above
      // for the checkpoints, here for the live state): a rank of a lost group that still runs
      // can then move neither, and all ranks of this group read the same state.
      await group.fenceAndSync();
    }

    let trainer: Trainer | null = null;
    let lastPs = { bytes: 0, seconds: 0 };
    const onEvent = (e: TrainerEvent): void => {
      if (e.type === 'step' && trainer !== null) {
        const points: CurvePoint[] = [{ name: 'train/loss', value: e.report.loss }];
        points.push({ name: 'train/lld', value: e.report.lld });
        if (Number.isFinite(e.report.nce)) points.push({ name: 'train/nce', value: e.report.nce });
        if (e.report.H !== null) points.push({ name: 'train/H', value: e.report.H });
        for (const opt of [trainer.stepper.mainOptimizer, trainer.stepper.mmilbOptimizer])
          for (const g of opt.groups) points.push({ name: `lr/${g.name}`, value: g.lr });
        if (group !== null) {
          const now = { bytes: group.bytesMoved, seconds: group.exchangeMs / 1000 };
          points.push({ name: 'ps/bytes', value: now.bytes - lastPs.bytes });
          points.push({ name: 'ps/seconds', value: now.seconds - lastPs.seconds });
          lastPs = now;
        }
        post({
          type: 'step',
          epoch: e.epoch,
          step: trainer.stepper.globalStep,
          stepTimeMs: e.ms,
          samplesPerSecond: e.ms > 0 ? e.samples / (e.ms / 1000) : 0,
          points,
        });
      } else if (e.type === 'epoch') {
        post({ type: 'epoch', record: e.record });
      }
    };
    // Rank 0 alone writes checkpoints: every rank holds the same parameters.
    const checkpointing: Partial<TrainerOptions> =
      init.rank === 0
        ? {
            outDir: path.join(dir, 'checkpoints'),
            onCheckpoint: async (c) => {
              const bytes = fs.readFileSync(c.path);
              await store?.put(spec.trialId, c.kind, bytes, c.epoch, spec.attempt);
              post({ type: 'checkpoint', kind: c.kind, epoch: c.epoch, bytes: bytes.length });
            },
          }
        : {};
    const common = {
      data: prepared.data,
      batches: prepared.batches,
      bert: prepared.bert,
      onEvent,
      ...checkpointing,
      ...(group === null
        ? {}
        : { distributed: { rank: init.rank, worldSize: init.worldSize, group, live: group } }),
    };
    const stored = store === null ? null : await store.get(spec.trialId, 'last');
    // A live head whose chunks are gone (its Redis lost them) is no place to resume from: the
    // epoch checkpoint on the durable Redis is.
    const live =
      group === null
        ? null
        : await group.readSnapshot().catch((err: unknown) => {
            log.warn(
              { err, trialId: spec.trialId },
              'live state unreadable: resuming from the checkpoint',
            );
            return null;
          });
    const resumed = (source: 'live' | 'checkpoint', t: Trainer): void =>
      post({ type: 'note', note: 'resumed', epoch: t.epochsDone, step: t.globalStep, source });
    if (live !== null && (stored === null || live.cursor.state.epoch >= stored.epoch)) {
      // Mid-epoch, where the lost group stood (the same config; frozen layers from the init).
      trainer = await Trainer.resumeLive(live, {
        ...common,
        ...(prepared.init === undefined ? {} : { init: prepared.init }),
      });
      resumed('live', trainer);
      for (const record of trainer.history) post({ type: 'epoch', record });
    } else if (stored !== null) {
      const file = path.join(dir, 'resume.safetensors');
      fs.writeFileSync(file, stored.data);
      trainer = await Trainer.resume(file, common);
      resumed('checkpoint', trainer);
      // The epochs the checkpoint holds are reported again: whoever trained them may have been
      // cut off before its reports reached the coordinator (which ignores epochs it has).
      for (const record of trainer.history) post({ type: 'epoch', record });
    } else if (spec.start?.resume !== undefined) {
      // `mmim train --workers K --resume FILE`: the user's checkpoint, on the first attempt.
      trainer = await Trainer.resume(spec.start.resume, common);
      resumed('checkpoint', trainer);
      if (init.rank === 0 && store !== null) {
        // It is where the trial stands: the trial's last checkpoint until an epoch replaces it
        // (so a run resumed at its end still has one, and a retry resumes from it).
        const bytes = fs.readFileSync(spec.start.resume);
        await store.put(spec.trialId, 'last', bytes, trainer.epochsDone, spec.attempt);
        post({ type: 'checkpoint', kind: 'last', epoch: trainer.epochsDone, bytes: bytes.length });
      }
      for (const record of trainer.history) post({ type: 'epoch', record });
    } else {
      trainer = new Trainer({
        ...common,
        config: prepared.config,
        ...(prepared.init === undefined ? {} : { init: prepared.init }),
      });
    }
    let stoppedBy: TrialSummary['stoppedBy'] = 'max-epochs';
    const result: TrainResult = await trainer.run();
    if (result.history.length > 0 && trainer.epochsDone < prepared.config.num_epochs)
      stoppedBy = 'early-stopping';
    trainer.dispose();
    // The trial's result is in its checkpoints: the live state is no longer needed.
    if (init.rank === 0) await group?.clear();
    return {
      epochs: result.history.length,
      bestEpoch: result.best?.epoch ?? null,
      bestValid: result.bestValid,
      bestTest: result.bestTest,
      stoppedBy,
    };
  } finally {
    await Promise.allSettled([
      redis?.quit(),
      blocking?.quit(),
      exchange !== redis ? exchange?.quit() : undefined,
    ]);
    // Without Redis the local checkpoints are the only copy: keep them.
    if (redis !== null) fs.rmSync(dir, { recursive: true, force: true });
  }
}

// The end is posted after run()'s clean-up: the main thread terminates the thread on it.
port.once('message', (m: StartTrial) => {
  run(m.init).then(
    (result) => post({ type: 'end', outcome: 'COMPLETED', error: '', result }),
    (err: unknown) =>
      post({
        type: 'end',
        outcome: 'FAILED',
        error: err instanceof Error ? err.message : String(err),
        ...(err instanceof Error && err.stack !== undefined ? { stack: err.stack } : {}),
        result: null,
      }),
  );
});
