/**
 * Which artifact store a run's checkpoints go to, and how a reader finds the store a checkpoint
 * is in. The coordinator publishes its `--artifacts` setting in Redis (`<prefix>artifacts:store`);
 * every CheckpointStore without an explicit store writes to the published one (so workers need
 * no flag of their own), and reads each checkpoint from the store its pointer names by scheme:
 * `redis` is always this Redis; `dir`/`s3` are the published store when its scheme matches.
 * A checkpoint records only the scheme and a key relative to the store, so moving a run
 * directory or a bucket and publishing the new location keeps every record valid.
 */
import type { Cluster, Redis } from 'ioredis';
import {
  RedisArtifactStore,
  openArtifactStore,
  parseArtifactSpec,
  type ArtifactStore,
} from '@mmim/artifacts';

export const publishedStoreKey = (prefix: string): string => `${prefix}artifacts:store`;

/** Makes `spec` the run's artifact store for every CheckpointStore on this Redis and prefix. */
export async function publishArtifactStore(
  redis: Redis | Cluster,
  spec: string,
  prefix = 'mmim:',
): Promise<void> {
  await redis.set(publishedStoreKey(prefix), spec);
}

export class ArtifactStoreResolver {
  private readonly opened = new Map<string, ArtifactStore>();
  private readonly redisStore: ArtifactStore;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
    private readonly explicit: ArtifactStore | null,
  ) {
    // Nothing configured (a deployment from before artifact stores): Redis as before, uncapped,
    // so a BERT-base checkpoint is not refused; the coordinator warns. `--artifacts redis` is
    // the capped store.
    this.redisStore = new RedisArtifactStore(redis, { prefix, maxBytes: Number.MAX_SAFE_INTEGER });
  }

  private async published(): Promise<string | null> {
    return this.redis.get(publishedStoreKey(this.prefix));
  }

  private open(spec: string): ArtifactStore {
    let store = this.opened.get(spec);
    if (store === undefined) {
      store = openArtifactStore(spec, { redis: this.redis, prefix: this.prefix });
      this.opened.set(spec, store);
    }
    return store;
  }

  /** True when nothing chose a store: checkpoints go to Redis, uncapped (the old behaviour). */
  async unconfigured(): Promise<boolean> {
    return this.explicit === null && (await this.published()) === null;
  }

  /** Where a new checkpoint goes: the explicit store, else the published one, else Redis. */
  async target(): Promise<ArtifactStore> {
    if (this.explicit !== null) return this.explicit;
    const spec = await this.published();
    return spec === null ? this.redisStore : this.open(spec);
  }

  /** The store holding a checkpoint whose pointer names `scheme`. */
  async source(scheme: string, what: string): Promise<ArtifactStore> {
    if (this.explicit?.scheme === scheme) return this.explicit;
    const spec = await this.published();
    if (spec !== null && parseArtifactSpec(spec).scheme === scheme) return this.open(spec);
    if (scheme === 'redis') return this.redisStore;
    throw new Error(
      `${what} is in a '${scheme}' artifact store, but this run's store is ${
        this.explicit?.location ?? spec ?? 'redis'
      }: start the coordinator with --artifacts ${scheme}:... pointing at where it now lives`,
    );
  }

  async close(): Promise<void> {
    for (const store of this.opened.values()) await store.close();
    this.opened.clear();
  }
}
