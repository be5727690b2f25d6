/**
 * Child-process writer for the crash test: opens a store by URL and streams `chunks` chunks of
 * `chunkBytes` into `key`, printing "sent N" after each and then waiting, so the parent can
 * SIGKILL it in the middle of the write. argv: url, key, chunks, chunkBytes.
 * Env: MMIM_TEST_REDIS_URL for the redis backend.
 */
import { Redis } from 'ioredis';
import { openArtifactStore } from '../registry.js';

const [url = '', key = '', chunks = '4', chunkBytes = '1048576'] = process.argv.slice(2);
const redisUrl = process.env.MMIM_TEST_REDIS_URL;
const redis = redisUrl === undefined ? undefined : new Redis(redisUrl);
const store = openArtifactStore(url, redis === undefined ? {} : { redis });

async function* body(): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < Number(chunks); i++) {
    yield new Uint8Array(Number(chunkBytes)).fill(i + 1);
    process.stdout.write(`sent ${i + 1}\n`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // Never finishes on its own: the parent kills the process here at the latest.
  await new Promise(() => undefined);
}

await store.put(key, body());
