/**
 * The run's checkpoint store as the coordinator sets it up: `--artifacts SPEC` (or
 * MMIM_ARTIFACTS) opens the artifact store and publishes it in Redis, so every worker's trial
 * thread writes there without a flag of its own; without it, whatever an earlier start published
 * stays in force (a restart keeps the run's store), else checkpoints go to Redis uncapped, as
 * before artifact stores, with a warning (`--artifacts redis` is the capped Redis store).
 */
import type { Redis } from 'ioredis';
import { openArtifactStore, type ArtifactStore } from '@mmim/artifacts';
import { CheckpointStore, publishArtifactStore } from '@mmim/experiments';
import type { Logger } from '@mmim/runtime';

export async function openCheckpoints(
  redis: Redis,
  spec: string | null,
  log: Logger,
): Promise<CheckpointStore> {
  if (spec === null) {
    const checkpoints = new CheckpointStore(redis);
    if (await checkpoints.unconfigured()) {
      log.warn(
        'checkpoints go to Redis, uncapped (no --artifacts): a sweep of large models fills it; ' +
          'use --artifacts dir:PATH (a volume every worker mounts) or s3://BUCKET/PREFIX',
      );
    } else {
      const target = await checkpoints.target();
      log.info({ artifacts: target.location }, 'checkpoints go to the published artifact store');
    }
    return checkpoints;
  }
  let artifacts: ArtifactStore;
  try {
    artifacts = openArtifactStore(spec, { redis });
  } catch (err) {
    throw new Error(`--artifacts: ${(err as Error).message}`, { cause: err });
  }
  // Workers may run elsewhere (another cwd): publish a dir store by its absolute path.
  await publishArtifactStore(redis, artifacts.scheme === 'dir' ? artifacts.location : spec);
  log.info({ artifacts: artifacts.location }, 'checkpoints go to the artifact store');
  return new CheckpointStore(redis, 'mmim:', { artifacts });
}
