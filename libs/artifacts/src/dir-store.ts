/**
 * Artifacts as plain files under one directory (the default for `mmim up`: `<run dir>/artifacts`;
 * on Kubernetes a shared volume mounted at the same path on every pod). A key is a file path
 * relative to the root, so the files are ordinary safetensors an operator can copy. The sha256
 * and write time sit beside the data in `.meta/<key>.json`.
 *
 * Atomic replace: the bytes go to `.tmp/<random>`, are fsynced, then renamed over the key (rename
 * is atomic within a file system); the metadata follows the same way. A reader that catches the
 * two renames apart sees a sha256 mismatch and reads again. A write that dies leaves only a file
 * in `.tmp`, which purgeIncomplete() removes.
 */
import { randomUUID, createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { bodyChunks, checkExpected, readAll, verified } from './body.js';
import {
  ArtifactCorruptError,
  checkArtifactKey,
  checkArtifactPrefix,
  type ArtifactBody,
  type ArtifactInfo,
  type ArtifactStore,
  type OpenedArtifact,
  type PutOptions,
  type StoredArtifact,
} from './store.js';

interface Meta {
  bytes: number;
  sha256: string;
  savedAt: number;
}

const READ_CHUNK = 4 * 1024 * 1024;

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'ENOENT';

export class DirArtifactStore implements ArtifactStore {
  readonly scheme = 'dir' as const;
  readonly location: string;
  private readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.location = `dir:${this.root}`;
  }

  private dataPath(key: string): string {
    checkArtifactKey(key);
    return path.join(this.root, key);
  }

  private metaPath(key: string): string {
    return path.join(this.root, '.meta', `${key}.json`);
  }

  private tmpPath(): string {
    return path.join(this.root, '.tmp', randomUUID());
  }

  async put(key: string, body: ArtifactBody, options: PutOptions = {}): Promise<ArtifactInfo> {
    const target = this.dataPath(key);
    const tmp = this.tmpPath();
    await fsp.mkdir(path.dirname(tmp), { recursive: true });
    const hash = createHash('sha256');
    let bytes = 0;
    const file = await fsp.open(tmp, 'w');
    try {
      for await (const chunk of bodyChunks(body)) {
        hash.update(chunk);
        bytes += chunk.length;
        await file.write(chunk);
      }
      await file.sync();
    } catch (err) {
      await file.close();
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    await file.close();
    const sha256 = hash.digest('hex');
    try {
      checkExpected(key, options.sha256, sha256);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    const meta: Meta = { bytes, sha256, savedAt: Date.now() };
    const metaTmp = this.tmpPath();
    await fsp.writeFile(metaTmp, JSON.stringify(meta));
    await fsp.mkdir(path.dirname(target), { recursive: true });
    await fsp.mkdir(path.dirname(this.metaPath(key)), { recursive: true });
    await fsp.rename(tmp, target);
    await fsp.rename(metaTmp, this.metaPath(key));
    return { key, ...meta };
  }

  async info(key: string): Promise<ArtifactInfo | null> {
    const target = this.dataPath(key);
    try {
      const meta = JSON.parse(await fsp.readFile(this.metaPath(key), 'utf8')) as Meta;
      return { key, ...meta };
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
    // Data without metadata: a write died between its two renames. The data file is whole
    // (renamed after fsync), so its hash is the truth.
    try {
      const stat = await fsp.stat(target);
      const hash = createHash('sha256');
      for await (const chunk of fs.createReadStream(target)) hash.update(chunk as Buffer);
      return { key, bytes: stat.size, sha256: hash.digest('hex'), savedAt: stat.mtimeMs };
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async open(key: string): Promise<OpenedArtifact | null> {
    const info = await this.info(key);
    if (info === null) return null;
    const target = this.dataPath(key);
    const location = this.location;
    return {
      ...info,
      chunks: () =>
        verified(location, key, info, fs.createReadStream(target, { highWaterMark: READ_CHUNK })),
    };
  }

  async get(key: string): Promise<StoredArtifact | null> {
    // A replace that lands between reading the metadata and the bytes shows as a mismatch:
    // read again; a mismatch that persists is real corruption.
    for (let attempt = 0; ; attempt++) {
      const opened = await this.open(key);
      if (opened === null) return null;
      try {
        return await readAll(opened);
      } catch (err) {
        if (attempt >= 2 || !(err instanceof ArtifactCorruptError || isMissing(err))) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  async delete(key: string): Promise<boolean> {
    const target = this.dataPath(key);
    let existed = true;
    await fsp.rm(target).catch((err: unknown) => {
      if (!isMissing(err)) throw err;
      existed = false;
    });
    await fsp.rm(this.metaPath(key), { force: true });
    return existed;
  }

  async list(prefix = ''): Promise<ArtifactInfo[]> {
    checkArtifactPrefix(prefix);
    const out: ArtifactInfo[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries: fs.Dirent[];
      try {
        entries = await fsp.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isMissing(err)) return;
        throw err;
      }
      for (const e of entries) {
        if (e.name.startsWith('.')) continue; // .tmp, .meta
        const key = rel === '' ? e.name : `${rel}/${e.name}`;
        if (e.isDirectory()) {
          if (prefix.startsWith(key) || key.startsWith(prefix))
            await walk(path.join(dir, e.name), key);
        } else if (e.isFile() && key.startsWith(prefix)) {
          const meta = await fsp
            .readFile(this.metaPath(key), 'utf8')
            .then((s) => JSON.parse(s) as Meta)
            .catch(() => null);
          const stat = await fsp.stat(path.join(dir, e.name));
          out.push({
            key,
            bytes: stat.size,
            sha256: meta?.sha256 ?? '',
            savedAt: meta?.savedAt ?? stat.mtimeMs,
          });
        }
      }
    };
    await walk(this.root, '');
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async purgeIncomplete(olderThanMs: number): Promise<{ items: number; bytes: number }> {
    const dir = path.join(this.root, '.tmp');
    const cutoff = Date.now() - olderThanMs;
    let items = 0;
    let bytes = 0;
    const names = await fsp.readdir(dir).catch((err: unknown) => {
      if (isMissing(err)) return [] as string[];
      throw err;
    });
    for (const name of names) {
      const file = path.join(dir, name);
      const stat = await fsp.stat(file).catch(() => null);
      if (stat === null || (olderThanMs > 0 && stat.mtimeMs > cutoff)) continue;
      await fsp.rm(file, { force: true });
      items++;
      bytes += stat.size;
    }
    return { items, bytes };
  }

  async close(): Promise<void> {}
}
