/**
 * One rank of a data-parallel MMIM run over Redis (the process each worker will run per trial;
 * for now driven directly by tests and benches):
 *   node --import tsx apps/worker/src/dp/dp-train.ts --redis-port P --trial T --rank R --world K --out F
 *     [--mode sharded|replicated] [--redis-cluster P1,P2,P3] [--compression none|fp16] [--staleness S]
 * Trains the demo setup below (a tiny MMIM, fixed random batches) for stage 0 and stage 1 passes
 * with the data-parallel step (exact unless fp16 or staleness is asked for), then writes the
 * parameters to F (safetensors). `sharded` (the default, the training path): each rank steps the
 * chunks it owns and publishes them through the live state; `replicated`: every rank sums every
 * gradient and steps everything (the earlier design, kept for comparison and for staleness).
 */
import { parseArgs } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { initBackend } from '@mmim/runtime';
import {
  MmimModel,
  REFERENCE_OPTIMIZATION,
  sizeOf,
  TwoStageStepper,
  dataParallelStep,
  TINY_BERT,
  randomBatch,
  resolveMmimConfig,
  saveMmimWeights,
  sliceBatch,
  type MmimBatch,
  type OptimizationConfig,
  type RankShare,
  type StepReport,
  type StepperSharding,
} from '@mmim/model';
import { rankRange } from '@mmim/data';
import {
  LiveStateStore,
  RedisCollectives,
  type Compression,
  type RedisClient,
} from '@mmim/param-server';
import { RedisRankGroup } from './redis-rank-group.js';
import { ShardedRedisRankGroup } from './sharded-rank-group.js';

type Group = RedisRankGroup | ShardedRedisRankGroup;

/** The trainable parameters as a sharded group lays them out (every rank the same order). */
export function trainableSpecs(model: MmimModel): { name: string; size: number }[] {
  return model
    .trainableVariables()
    .map((v) => model.paramOfVariable(v.name))
    .map((name) => ({ name, size: sizeOf(model.spec(name).shape) }));
}

/** A stepper for `model`: sharded over the group's owners, or replicated. */
function stepperFor(model: MmimModel, group: Group): TwoStageStepper {
  const sharding: StepperSharding | undefined =
    group instanceof ShardedRedisRankGroup ? group.shardFor(trainableSpecs(model)) : undefined;
  return new TwoStageStepper(model, DEMO_OPTIMIZATION, sharding);
}

export const DEMO_CONFIG = resolveMmimConfig({
  bert: {
    vocab_size: 2000,
    hidden_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    intermediate_size: 64,
    max_position_embeddings: 64,
  },
  d_vin: 6,
  d_ain: 5,
  d_vh: 8,
  d_ah: 8,
  d_vout: 16,
  d_aout: 16,
  d_prjh: 24,
});
export const DEMO_OPTIMIZATION: Readonly<OptimizationConfig> = REFERENCE_OPTIMIZATION;
export const DEMO_BATCH = 16;
export const DEMO_STAGES: readonly (0 | 1)[] = [0, 1, 0, 1];
export function demoBatches(): MmimBatch[] {
  return [0, 1, 2].map((i) =>
    randomBatch(
      DEMO_CONFIG,
      {
        size: DEMO_BATCH,
        textLength: 12,
        visualSteps: 9,
        acousticSteps: 7,
        firstSampleIndex: i * DEMO_BATCH,
      },
      200 + i,
    ),
  );
}

/** Rank r's contiguous rows of a global batch (the data lib's split: `rankRange`). */
export function rankShare(
  batch: MmimBatch,
  rank: number,
  world: number,
  dims: { d_vin: number; d_ain: number } = DEMO_CONFIG,
): RankShare {
  const [from, to] = rankRange(batch.size, rank, world);
  return {
    batch: sliceBatch(batch, from, to, dims.d_vin, dims.d_ain),
    offset: from,
    globalSize: batch.size,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'redis-port': { type: 'string' },
      // Comma-separated ports of a local Redis Cluster (instead of --redis-port).
      'redis-cluster': { type: 'string' },
      compression: { type: 'string', default: 'none' },
      staleness: { type: 'string', default: '0' },
      mode: { type: 'string', default: 'sharded' },
      trial: { type: 'string', default: 'dp-demo' },
      rank: { type: 'string' },
      world: { type: 'string' },
      out: { type: 'string' },
      'init-seed': { type: 'string', default: '5' },
      // 'demo' (the test setup) or 'mosi' (tiny BERT, MOSI shapes, batch 32: the scaling bench).
      setup: { type: 'string', default: 'demo' },
      // Stage-1 steps to time with --setup mosi.
      steps: { type: 'string', default: '4' },
      // With --setup mosi and --world 1: time the plain single-worker step (no exchange, no
      // second forward), the baseline data parallelism must beat.
      plain: { type: 'boolean', default: false },
    },
  });
  const clusterPorts = values['redis-cluster']?.split(',').map(Number);
  const port = Number(values['redis-port'] ?? clusterPorts?.[0]);
  const rank = Number(values.rank);
  const world = Number(values.world);
  if (
    (!values.out && values.setup !== 'mosi') ||
    !Number.isInteger(port) ||
    !Number.isInteger(rank) ||
    !Number.isInteger(world)
  ) {
    throw new Error(
      'usage: dp-train --redis-port P --rank R --world K (--out FILE | --setup mosi) [--trial T]',
    );
  }
  await initBackend({ backend: 'wasm' });
  const connect = (): RedisClient =>
    clusterPorts
      ? new Cluster(clusterPorts.map((p) => ({ host: '127.0.0.1', port: p })))
      : new Redis({ host: '127.0.0.1', port });
  const client = connect();
  const blocking = connect();
  const collectives = new RedisCollectives(
    client,
    blocking,
    values.trial ?? 'dp-demo',
    rank,
    world,
    {
      timeoutMs: 60_000,
    },
  );
  const width = values.setup === 'mosi' ? TINY_BERT.hidden_size : DEMO_CONFIG.bert.hidden_size;
  if (values.mode !== 'sharded' && values.mode !== 'replicated')
    throw new Error(`--mode: '${values.mode}' is not sharded or replicated`);
  if (values.mode === 'sharded' && Number(values.staleness) !== 0)
    throw new Error('--staleness needs --mode replicated (the sharded step is synchronous)');
  const group: Group =
    values.mode === 'sharded'
      ? new ShardedRedisRankGroup(
          collectives,
          new LiveStateStore(client, values.trial ?? 'dp-demo', 1),
          width,
          { compression: values.compression as Compression },
        )
      : new RedisRankGroup(collectives, width, {
          compression: values.compression as Compression,
          staleness: Number(values.staleness),
        });
  try {
    if (values.setup === 'mosi')
      await benchRank(group, rank, world, Number(values.steps), values.plain === true);
    else await demoRun(group, rank, world, values.out ?? '', Number(values['init-seed']));
  } finally {
    if (group instanceof RedisRankGroup) group.close();
    await Promise.all([client.quit(), blocking.quit()]);
  }
}

/** Time stage-1 steps on MOSI-shaped batches; prints one JSON line per timed step. */
async function benchRank(
  group: Group,
  rank: number,
  world: number,
  steps: number,
  plain: boolean,
): Promise<void> {
  if (plain && world !== 1) throw new Error('dp-train: --plain times one worker: use --world 1');
  const config = resolveMmimConfig({
    bert: { ...TINY_BERT, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 },
    d_vin: 20,
    d_ain: 5,
  });
  const stepper = plain
    ? new TwoStageStepper(MmimModel.initialize(config, 1), DEMO_OPTIMIZATION)
    : stepperFor(MmimModel.initialize(config, 1), group);
  const shape = { size: 32, textLength: 50, visualSteps: 500, acousticSteps: 375 };
  stepper.beginStage(1);
  for (let i = 0; i <= steps; i++) {
    const batch = randomBatch(config, { ...shape, firstSampleIndex: i * 32 }, 300 + i);
    const share = rankShare(batch, rank, world, config);
    const bytesBefore = group.bytesMoved;
    const exchangeBefore = group.exchangeMs;
    const t0 = performance.now();
    if (plain) await stepper.step(batch);
    else await dataParallelStep(stepper, share, group);
    // Step 0 warms up kernels and fills the entropy memory: not timed.
    if (i > 0) {
      const ms = performance.now() - t0;
      const line = {
        rank,
        step: i,
        ms,
        bytes: group.bytesMoved - bytesBefore,
        exchangeMs: group.exchangeMs - exchangeBefore,
      };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    }
  }
  process.stdout.write(`${JSON.stringify({ rank, parts: group.partSizes() })}\n`);
  if (group instanceof RedisRankGroup) await applyPending(stepper, group, null);
  stepper.dispose();
  stepper.model.dispose();
}

/**
 * With staleness, the sums still in flight belong to the current stage: apply them (with the
 * last step's loss values for the report) before the stage changes or training ends.
 */
export async function applyPending(
  stepper: TwoStageStepper,
  group: RedisRankGroup,
  last: StepReport | null,
): Promise<void> {
  const values = {
    loss: last?.loss ?? 0,
    yLoss: last?.yLoss ?? null,
    lld: last?.lld ?? 0,
    nce: last?.nce ?? NaN,
    H: last?.H ?? null,
    entropySkipped: last?.entropySkipped ?? 0,
  };
  for (const sum of await group.drain()) await stepper.applyGradients(sum, values);
}

async function demoRun(
  group: Group,
  rank: number,
  world: number,
  out: string,
  seed: number,
): Promise<void> {
  const model = MmimModel.initialize(DEMO_CONFIG, seed);
  const stepper = stepperFor(model, group);
  const batches = demoBatches();
  for (const stage of DEMO_STAGES) {
    stepper.beginStage(stage);
    let last: StepReport | null = null;
    for (const batch of batches) {
      const bytesBefore = group.bytesMoved;
      last = await dataParallelStep(stepper, rankShare(batch, rank, world), group);
      process.stdout.write(
        `${JSON.stringify({ rank, stage, loss: last.loss, gradNorm: last.gradNorm, stepped: last.stepped, bytes: group.bytesMoved - bytesBefore })}\n`,
      );
    }
    if (group instanceof RedisRankGroup) await applyPending(stepper, group, last);
  }
  await saveMmimWeights(out, model, { rank: String(rank), world: String(world) });
  model.dispose();
}

if (
  process.argv[1] !== undefined &&
  import.meta.url.endsWith(process.argv[1].split('/').slice(-2).join('/'))
) {
  main().catch((err: unknown) => {
    process.stderr.write(`dp-train: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
