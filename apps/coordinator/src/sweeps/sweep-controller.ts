/**
 * Drives sweeps: samples configs (grid, random, TPE from @mmim/sweep), turns each into one
 * trial per seed, asks the sweep's early-stopping scheduler after every epoch, keeps the
 * sweep's best config, and pauses, resumes, cancels and finishes sweeps.
 *
 * Everything it knows is rebuilt from the experiment store on start: the sampler from the
 * configs and their recorded results (samplers draw from (seed, config index), so the same
 * history gives the same next config), the scheduler by replaying every recorded epoch in the
 * order it arrived. A restarted coordinator carries on where the killed one stopped.
 *
 * How many configs are in flight at once: enough to keep every worker busy, plus one, so TPE
 * sees results before it samples most of the budget (more in flight = closer to random).
 */
import { randomBytes } from 'node:crypto';
import type {
  ConfigKey,
  EpochEntry,
  ExperimentStoreApi,
  MetricSpec,
  SweepId,
  SweepRecord,
  TrialRecord,
} from '@mmim/experiments';
import { TERMINAL_TRIAL_STATES, epochObjective } from '@mmim/experiments';
import {
  better,
  configKey,
  finishedConfigOf,
  groupByConfig,
  createSampler,
  createScheduler,
  expandDotted,
  parseSweepYaml,
  samplerHistory,
  type Sampler,
  type SweepSpec,
  type TrialScheduler,
} from '@mmim/sweep';
import type { Logger } from '@mmim/runtime';
import type { EpochDecision, TrialHooks, TrialManager } from '../trials/trial-manager.js';
import { SweepActionError, sweepDeletionRefusal, type SweepDeletion } from '../http/index.js';
import type { WorkersPerTrialLimit } from '../trials/admission.js';
import { newTrialRecord } from '../trials/new-trial.js';

interface ConfigEntry {
  index: number;
  params: Record<string, unknown>;
}

interface LiveSweep {
  record: SweepRecord;
  spec: SweepSpec;
  sampler: Sampler;
  scheduler: TrialScheduler;
  configs: Map<ConfigKey, ConfigEntry>;
  nextIndex: number;
  exhausted: boolean;
}

export interface SweepControllerOptions {
  store: ExperimentStoreApi;
  trials: TrialManager;
  log: Logger;
  /** Workers connected now (sizes how many configs are in flight). */
  workerCount: () => number;
  /** Sweeps whose trials are larger than this are refused (none: no limit). */
  admission?: WorkersPerTrialLimit | null;
}

const MAX_TRIALS_PER_SWEEP = 100_000;

function newSweepId(name: string): SweepId {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 32);
  return `${slug || 'sweep'}-${randomBytes(3).toString('hex')}`;
}

/** The trial spec's data field (what the worker loads) for the sweep's data source. */
function dataOf(spec: SweepSpec): Record<string, unknown> {
  const d = spec.data;
  if (typeof d === 'string') return { kind: 'file', path: d };
  return {
    kind: 'synthetic',
    dataset: d.synthetic,
    ...(d.train === undefined ? {} : { train: d.train }),
    ...(d.valid === undefined ? {} : { valid: d.valid }),
    ...(d.test === undefined ? {} : { test: d.test }),
    ...(d.seed === undefined ? {} : { seed: d.seed }),
  };
}

function mergeDeep(
  a: Record<string, unknown>,
  b: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      v !== null &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      prev !== null &&
      typeof prev === 'object' &&
      !Array.isArray(prev)
        ? mergeDeep(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

export class SweepController implements TrialHooks {
  readonly #o: SweepControllerOptions;
  readonly #log: Logger;
  readonly #live = new Map<SweepId, LiveSweep>();
  /** Serialises the work on one sweep (fills and ends interleave otherwise). */
  readonly #locks = new Map<SweepId, Promise<void>>();

  constructor(options: SweepControllerOptions) {
    this.#o = options;
    this.#log = options.log.child({ component: 'sweeps' });
  }

  /** Rebuilds every unfinished sweep from the store and tops up its trials. */
  async start(): Promise<void> {
    for (const record of await this.#o.store.listSweeps()) {
      if (record.state !== 'running' && record.state !== 'paused') continue;
      try {
        await this.#restore(record);
      } catch (err) {
        this.#log.error({ sweepId: record.id, err }, 'sweep could not be restored; left as it is');
      }
    }
    for (const [id, live] of [...this.#live]) {
      // A limit lowered across a restart: the sweep's trials could never be placed.
      const refusal = this.#refusal(live.spec);
      if (refusal === null) continue;
      this.#log.warn({ sweepId: id, reason: refusal }, 'sweep refused at start');
      await this.#o.store.addSweepEvent(id, {
        at: Date.now(),
        type: 'cancelled',
        message: refusal,
      });
      await this.cancel(id).catch((err: unknown) =>
        this.#log.error({ sweepId: id, err }, 'refused sweep could not be cancelled'),
      );
    }
    for (const id of this.#live.keys()) await this.#withLock(id, () => this.#fill(id));
  }

  /** Why the sweep's trials are refused (its workers_per_trial named), or null. */
  #refusal(spec: SweepSpec): string | null {
    const why = this.#o.admission?.refusal(spec.workersPerTrial, 'workers_per_trial') ?? null;
    return why === null ? null : `refused: ${why}`;
  }

  /** Parses a sweep file's text and starts the sweep. Errors name the key and the problem. */
  async create(yamlText: string, source = 'sweep file'): Promise<SweepRecord> {
    // Loaded on first use: the trainer pulls in TF.js, which a coordinator that only restores
    // sweeps never needs (and start-up time is heartbeat downtime after a restart).
    const { trainerConfigSchema } = await import('@mmim/trainer');
    const spec = parseSweepYaml(yamlText, { trainerSchema: trainerConfigSchema, source });
    const refusal = this.#o.admission?.refusal(spec.workersPerTrial, 'workers_per_trial') ?? null;
    if (refusal !== null) throw new SweepActionError('invalid', '', `${source}: ${refusal}`);
    const now = Date.now();
    const record: SweepRecord = {
      id: newSweepId(spec.name),
      name: spec.name,
      state: 'running',
      createdAt: now,
      updatedAt: now,
      metric: spec.metric,
      // The file as written is what a restart re-parses; the parsed form is for display.
      spec: {
        source: yamlText,
        parsed: JSON.parse(JSON.stringify(spec)) as Record<string, unknown>,
      },
      runCap: spec.runCap,
      seeds: spec.seeds,
      workersPerTrial: spec.workersPerTrial,
      best: null,
    };
    await this.#o.store.putSweep(record);
    this.#live.set(record.id, this.#liveOf(record, spec));
    await this.#o.store.addSweepEvent(record.id, {
      at: now,
      type: 'queued',
      message: `created: ${spec.method}, ${spec.runCap} configs x ${spec.seeds.length} seeds`,
    });
    this.#log.info({ sweepId: record.id, name: spec.name }, 'sweep created');
    await this.#withLock(record.id, () => this.#fill(record.id));
    return (await this.#o.store.getSweep(record.id)) ?? record;
  }

  async pause(id: SweepId): Promise<SweepRecord> {
    return this.#withLockResult(id, async () => {
      const live = await this.#need(id);
      if (live.record.state !== 'running') {
        throw new SweepActionError(
          'conflict',
          id,
          `sweep ${id} is ${live.record.state}, not running`,
        );
      }
      live.record = await this.#o.store.updateSweep(id, { state: 'paused', updatedAt: Date.now() });
      for (const t of await this.#trialsOf(id)) {
        if (t.state === 'queued') await this.#o.trials.unqueue(t.id);
      }
      await this.#sweepEvent(id, 'paused', 'paused: no new trials start; running ones finish');
      return live.record;
    });
  }

  async resume(id: SweepId): Promise<SweepRecord> {
    return this.#withLockResult(id, async () => {
      const live = await this.#need(id);
      if (live.record.state !== 'paused') {
        throw new SweepActionError(
          'conflict',
          id,
          `sweep ${id} is ${live.record.state}, not paused`,
        );
      }
      live.record = await this.#o.store.updateSweep(id, {
        state: 'running',
        updatedAt: Date.now(),
      });
      for (const t of await this.#trialsOf(id)) {
        if (t.state === 'queued') await this.#o.trials.requeueWaiting(t, live.spec.maxFailures);
      }
      await this.#o.trials.resumeParked(id);
      await this.#sweepEvent(id, 'resumed', 'resumed');
      await this.#fill(id);
      return live.record;
    });
  }

  async cancel(id: SweepId): Promise<SweepRecord> {
    return this.#withLockResult(id, async () => {
      const record = this.#live.get(id)?.record ?? (await this.#o.store.getSweep(id));
      if (!record) throw new SweepActionError('not-found', id, `no sweep with id ${id}`);
      if (record.state === 'cancelled' || record.state === 'finished') {
        throw new SweepActionError('conflict', id, `sweep ${id} is already ${record.state}`);
      }
      const updated = await this.#o.store.updateSweep(id, {
        state: 'cancelled',
        updatedAt: Date.now(),
      });
      const live = this.#live.get(id);
      if (live) live.record = updated;
      for (const t of await this.#trialsOf(id)) {
        if (!TERMINAL_TRIAL_STATES.includes(t.state))
          await this.#o.trials.cancel(t.id, 'sweep cancelled');
      }
      this.#live.delete(id);
      await this.#sweepEvent(id, 'cancelled', 'cancelled');
      return updated;
    });
  }

  /**
   * Deletes an ended sweep (sweepDeletionRefusal says which may go): `removeCheckpoints` first
   * (the bytes in the artifact store), then the record and its trials'. Under the sweep's lock,
   * so no pause, resume or cancel of it runs meanwhile. A failure part-way leaves the record,
   * and a retry deletes the rest.
   */
  async delete(
    id: SweepId,
    removeCheckpoints: (
      trials: readonly TrialRecord[],
    ) => Promise<{ checkpoints: number; freedBytes: number }>,
  ): Promise<SweepDeletion> {
    return this.#withLockResult(id, async () => {
      const record = await this.#o.store.getSweep(id);
      if (!record) throw new SweepActionError('not-found', id, `no sweep with id ${id}`);
      const trials = await this.#trialsOf(id);
      const refusal = sweepDeletionRefusal(record, trials);
      if (refusal !== null) throw new SweepActionError('conflict', id, refusal);
      const freed = await removeCheckpoints(trials);
      const removed = await this.#o.store.deleteSweep(id);
      this.#live.delete(id);
      const deletion: SweepDeletion = { sweepId: id, trials: removed.length, ...freed };
      this.#log.info(deletion, 'sweep deleted');
      return deletion;
    });
  }

  // TrialHooks

  async metricOf(trial: TrialRecord): Promise<MetricSpec> {
    if (trial.sweepId === null) return { name: 'valid.mae', goal: 'minimize' };
    const live = this.#live.get(trial.sweepId);
    return (
      live?.record.metric ??
      (await this.#o.store.getSweep(trial.sweepId))?.metric ?? {
        name: 'valid.mae',
        goal: 'minimize',
      }
    );
  }

  async mayStart(trial: TrialRecord): Promise<boolean> {
    if (trial.sweepId === null) return true;
    const live = this.#live.get(trial.sweepId);
    return live === undefined || live.record.state === 'running';
  }

  async onEpoch(trial: TrialRecord, entry: EpochEntry): Promise<EpochDecision> {
    if (trial.sweepId === null) return 'continue';
    const live = this.#live.get(trial.sweepId);
    if (!live) return 'continue';
    const value = epochObjective(entry, live.record.metric.name);
    if (value === null) return 'continue';
    return live.scheduler.onEpoch(trial.id, entry.epoch, value);
  }

  async onTrialEnd(trial: TrialRecord): Promise<void> {
    const id = trial.sweepId;
    if (id === null || !this.#live.has(id)) return;
    // Queued behind the sweep's lock, not awaited: a trial may end inside a locked action
    // (cancel ends every trial), and waiting here would wait for that action itself.
    void this.#withLock(id, async () => {
      await this.#updateBest(id);
      await this.#fill(id);
    });
  }

  // Internals

  async #need(id: SweepId): Promise<LiveSweep> {
    const live = this.#live.get(id);
    if (live) return live;
    const record = await this.#o.store.getSweep(id);
    if (!record) throw new SweepActionError('not-found', id, `no sweep with id ${id}`);
    throw new SweepActionError('conflict', id, `sweep ${id} is ${record.state}`);
  }

  #liveOf(record: SweepRecord, spec: SweepSpec): LiveSweep {
    return {
      record,
      spec,
      sampler: createSampler(spec),
      scheduler: createScheduler(spec),
      configs: new Map(),
      nextIndex: 0,
      exhausted: false,
    };
  }

  async #restore(record: SweepRecord): Promise<void> {
    const source = record.spec['source'];
    if (typeof source !== 'string') throw new Error(`sweep ${record.id} has no source file text`);
    // Validated against the trainer's schema when it was created; the names are checked again.
    const spec = parseSweepYaml(source, { source: `sweep ${record.id}` });
    const live = this.#liveOf(record, spec);
    const trials = await this.#trialsOf(record.id);
    const history: { trialId: string; epoch: number; value: number; at: number }[] = [];
    for (const t of trials) {
      const index = Math.floor(t.number / spec.seeds.length);
      live.configs.set(t.configKey, { index, params: t.params });
      live.nextIndex = Math.max(live.nextIndex, index + 1);
      for (const e of await this.#o.store.epochs(t.id)) {
        const value = epochObjective(e, record.metric.name);
        if (value !== null) history.push({ trialId: t.id, epoch: e.epoch, value, at: e.at });
      }
    }
    // Arrival order across trials (the coordinator's receipt time; ties by trial order).
    history.sort((a, b) => a.at - b.at);
    live.scheduler.restore(history);
    this.#live.set(record.id, live);
    this.#log.info(
      { sweepId: record.id, configs: live.configs.size, epochs: history.length },
      'sweep restored',
    );
  }

  async #trialsOf(id: SweepId): Promise<TrialRecord[]> {
    return (await this.#o.store.listTrials(id, { limit: MAX_TRIALS_PER_SWEEP, sort: 'number' }))
      .trials;
  }

  /** Samples new configs while the sweep runs, has budget and has room in flight. */
  async #fill(id: SweepId): Promise<void> {
    const live = this.#live.get(id);
    if (!live || live.record.state !== 'running') return;
    const { spec } = live;
    const { finished, running } = samplerHistory(await this.#trialsOf(id));
    const perConfig = spec.workersPerTrial * spec.seeds.length;
    const room = Math.max(1, Math.ceil(this.#o.workerCount() / perConfig)) + 1;
    while (!live.exhausted && running.length < room && live.nextIndex < spec.runCap) {
      const index = live.nextIndex;
      const params = live.sampler.ask({ finished, running }, index);
      if (params === null) {
        live.exhausted = true;
        break;
      }
      live.nextIndex++;
      const key = configKey(params);
      if (live.configs.has(key)) continue; // a repeat draw: the budget still counts it
      live.configs.set(key, { index, params });
      running.push(params);
      await this.#createTrials(live, index, key, params);
    }
    if (live.nextIndex >= spec.runCap) live.exhausted = true;
    if (live.exhausted && running.length === 0) {
      live.record = await this.#o.store.updateSweep(id, {
        state: 'finished',
        updatedAt: Date.now(),
      });
      this.#live.delete(id);
      await this.#sweepEvent(id, 'completed', 'finished: every sampled config has ended');
      this.#log.info({ sweepId: id, best: live.record.best }, 'sweep finished');
    }
  }

  async #createTrials(
    live: LiveSweep,
    index: number,
    key: ConfigKey,
    params: Record<string, unknown>,
  ): Promise<void> {
    const { spec, record } = live;
    const trainer = mergeDeep(spec.trainer, expandDotted(params));
    for (const [s, seed] of spec.seeds.entries()) {
      const trialId = `${record.id}-c${index}-s${s}`;
      await this.#o.trials.submit(
        newTrialRecord({
          id: trialId,
          sweepId: record.id,
          number: index * spec.seeds.length + s,
          configKey: key,
          params,
          seed,
          workersPerTrial: spec.workersPerTrial,
          data: dataOf(spec),
          trainer,
        }),
        spec.maxFailures,
      );
    }
  }

  /**
   * The sweep's best config: among configs whose every seed has ended, the best mean over its
   * seeds of each run's best objective, the same value the sampler learns from. A run stopped
   * early counts with its best value so far (it is rarely the best: it trained less); configs
   * whose every run failed have no value.
   */
  async #updateBest(id: SweepId): Promise<void> {
    const live = this.#live.get(id);
    if (!live) return;
    const goal = live.record.metric.goal;
    let best: SweepRecord['best'] = null;
    for (const [key, group] of groupByConfig(await this.#trialsOf(id))) {
      const finished = finishedConfigOf(group);
      if (finished?.value === null || finished === null) continue;
      if (best === null || better(finished.value, best.value, goal)) {
        best = {
          configKey: key,
          value: finished.value,
          trialIds: group.map((t) => t.id ?? '').filter((t) => t !== ''),
        };
      }
    }
    const prev = live.record.best;
    if (best && (prev === null || prev.configKey !== best.configKey || prev.value !== best.value)) {
      live.record = await this.#o.store.updateSweep(id, { best, updatedAt: Date.now() });
    }
  }

  async #sweepEvent(
    id: SweepId,
    type: 'paused' | 'resumed' | 'cancelled' | 'completed',
    message: string,
  ): Promise<void> {
    await this.#o.store.addSweepEvent(id, { at: Date.now(), type, message });
  }

  /** Runs `fn` after every earlier action on the sweep; its result or error is the caller's. */
  #withLockResult<T>(id: SweepId, fn: () => Promise<T>): Promise<T> {
    const run = (this.#locks.get(id) ?? Promise.resolve()).then(fn);
    // The chain continues whatever this action's outcome.
    this.#locks.set(
      id,
      run.then(
        () => undefined,
        () => undefined,
      ),
    );
    return run;
  }

  /** The same for internal work: an error is logged, not thrown. */
  async #withLock(id: SweepId, fn: () => Promise<void>): Promise<void> {
    await this.#withLockResult(id, fn).catch((err: unknown) => {
      this.#log.error({ sweepId: id, err }, 'sweep update failed');
    });
  }
}
