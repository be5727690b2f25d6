/**
 * One contract suite for every ArtifactStore backend (as Optuna tests its storages): the same
 * tests run against the directory, S3 and Redis stores, each on its real server.
 */
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ArtifactChecksumError, type ArtifactStore } from '../store.js';

export interface ContractFixture {
  store: ArtifactStore;
  /** The store's URL, for a child process (openArtifactStore). */
  url: string;
  /** Extra environment for that child (credentials, the Redis URL). */
  env: Record<string, string>;
  /** Damage the stored bytes of `key` behind the store's back (same length, other bytes). */
  corrupt(key: string): Promise<void>;
  stop(): Promise<void>;
}

export interface ContractBackend {
  name: string;
  setup(): Promise<ContractFixture>;
}

/** Deterministic bytes: n of them, seeded. */
export const bytes = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + (i >> 10)) & 0xff);

async function* streamed(data: Uint8Array, chunk: number): AsyncGenerator<Uint8Array> {
  // One reused buffer: the store must copy what it keeps.
  const buf = new Uint8Array(chunk);
  for (let off = 0; off < data.length; off += chunk) {
    const part = data.subarray(off, off + chunk);
    buf.set(part);
    yield buf.subarray(0, part.length);
  }
}

const same = (a: Uint8Array | undefined, b: Uint8Array): boolean =>
  a !== undefined && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

export function artifactStoreContract(backend: ContractBackend): void {
  describe(`ArtifactStore contract: ${backend.name}`, () => {
    let f: ContractFixture;
    before(async () => {
      f = await backend.setup();
    });
    after(async () => {
      await f.store.close();
      await f.store.close(); // twice is harmless
      await f.stop();
    });

    it('puts whole and streamed, gets back the same bytes with their sha256', async () => {
      const big = bytes(9 * 1024 * 1024 + 17, 1); // several Redis chunks, a multipart upload
      const whole = await f.store.put('t/a/whole.bin', big);
      const viaStream = await f.store.put('t/a/streamed.bin', streamed(big, 1024 * 1024 + 3));
      assert.equal(whole.sha256, viaStream.sha256);
      assert.equal(viaStream.bytes, big.length);
      for (const key of ['t/a/whole.bin', 't/a/streamed.bin']) {
        const got = await f.store.get(key);
        assert.ok(same(got?.data, big), `${key} read back`);
        assert.equal(got?.sha256, whole.sha256);
        const info = await f.store.info(key);
        assert.equal(info?.bytes, big.length);
        assert.equal(info?.sha256, whole.sha256);
        const opened = await f.store.open(key);
        const parts: Buffer[] = [];
        for await (const p of opened?.chunks() ?? []) parts.push(p);
        assert.ok(same(Buffer.concat(parts), big), `${key} streamed`);
      }
      const empty = await f.store.put('t/a/empty.bin', new Uint8Array(0));
      assert.equal(empty.bytes, 0);
      assert.equal((await f.store.get('t/a/empty.bin'))?.data.length, 0);
    });

    it('answers null for a missing key, deletes idempotently, lists by prefix in key order', async () => {
      assert.equal(await f.store.get('t/b/none.bin'), null);
      assert.equal(await f.store.info('t/b/none.bin'), null);
      assert.equal(await f.store.open('t/b/none.bin'), null);
      await f.store.put('t/b/2.bin', bytes(10, 2));
      await f.store.put('t/b/1.bin', bytes(20, 3));
      await f.store.put('t/bb/1.bin', bytes(30, 4));
      assert.deepEqual(
        (await f.store.list('t/b/')).map((i) => [i.key, i.bytes]),
        [
          ['t/b/1.bin', 20],
          ['t/b/2.bin', 10],
        ],
      );
      assert.equal((await f.store.list('t/')).filter((i) => i.key.startsWith('t/b')).length, 3);
      assert.equal(await f.store.delete('t/b/1.bin'), true);
      assert.equal(await f.store.delete('t/b/1.bin'), false);
      assert.deepEqual(
        (await f.store.list('t/b/')).map((i) => i.key),
        ['t/b/2.bin'],
      );
    });

    it('refuses keys that could escape the store, naming the key', async () => {
      for (const key of ['../x', '/abs', 'a//b', '.tmp/x', 'a/{b}', '']) {
        await assert.rejects(f.store.put(key, bytes(1, 1)), /invalid artifact key/);
      }
    });

    it('refuses a put whose bytes do not match the expected sha256 and keeps the old bytes', async () => {
      const old = bytes(100, 5);
      await f.store.put('t/c/x.bin', old);
      await assert.rejects(
        f.store.put('t/c/x.bin', bytes(100, 6), { sha256: '0'.repeat(64) }),
        ArtifactChecksumError,
      );
      await assert.rejects(
        f.store.put('t/c/x.bin', streamed(bytes(100, 6), 7), { sha256: '0'.repeat(64) }),
        ArtifactChecksumError,
      );
      assert.ok(same((await f.store.get('t/c/x.bin'))?.data, old));
    });

    it('detects bytes damaged behind its back, on get and on a streamed read', async () => {
      await f.store.put('t/d/x.bin', bytes(5000, 8));
      await f.corrupt('t/d/x.bin');
      await assert.rejects(f.store.get('t/d/x.bin'), /corrupt/);
      const opened = await f.store.open('t/d/x.bin');
      await assert.rejects(async () => {
        for await (const _ of opened?.chunks() ?? []) void _;
      }, /corrupt/);
    });

    it('replaces atomically: concurrent readers see the old or the new bytes, never a mix', async () => {
      const versions = [1, 2, 3, 4].map((s) => bytes(6 * 1024 * 1024 + s, 10 + s));
      await f.store.put('t/e/x.bin', versions[0] ?? new Uint8Array());
      let writing = true;
      const seen = new Set<number>();
      const reader = (async () => {
        while (writing) {
          const got = await f.store.get('t/e/x.bin');
          const which = versions.findIndex((v) => same(got?.data, v));
          assert.ok(which >= 0, 'a read returned bytes of no version');
          seen.add(which);
        }
      })();
      for (const v of versions.slice(1)) await f.store.put('t/e/x.bin', v);
      writing = false;
      await reader;
      assert.ok(same((await f.store.get('t/e/x.bin'))?.data, versions[3] ?? new Uint8Array()));
      assert.ok(seen.size >= 1);
    });

    it('a stream that fails part-way replaces nothing, and the same write then succeeds', async () => {
      const old = bytes(300, 20);
      await f.store.put('t/f/x.bin', old);
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield bytes(5 * 1024 * 1024, 21);
        throw new Error('disk on fire');
      }
      await assert.rejects(f.store.put('t/f/x.bin', failing()), /disk on fire/);
      assert.ok(same((await f.store.get('t/f/x.bin'))?.data, old));
      const next = bytes(400, 22);
      await f.store.put('t/f/x.bin', next);
      assert.ok(same((await f.store.get('t/f/x.bin'))?.data, next));
    });

    it('a writer killed mid-write (SIGKILL) leaves the old bytes readable; leftovers purge; a re-run write succeeds', async () => {
      const old = bytes(1234, 30);
      await f.store.put('t/g/x.bin', old);
      const keysBefore = (await f.store.list('t/')).map((i) => i.key);
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          fileURLToPath(new URL('./put-child.ts', import.meta.url)),
          f.url,
          't/g/x.bin',
          '6',
          String(3 * 1024 * 1024),
        ],
        { env: { ...process.env, ...f.env }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('sent 4')) resolve();
        });
        void exited.then(() => reject(new Error(`writer exited early: ${stderr}`)));
      });
      child.kill('SIGKILL');
      await exited;
      assert.ok(same((await f.store.get('t/g/x.bin'))?.data, old), 'old bytes after the crash');
      assert.deepEqual(
        (await f.store.list('t/')).map((i) => i.key),
        keysBefore,
        'no half-written key appeared',
      );
      await f.store.purgeIncomplete(0);
      assert.equal((await f.store.purgeIncomplete(0)).items, 0, 'a second purge finds nothing');
      const next = bytes(2 * 1024 * 1024, 31);
      await f.store.put('t/g/x.bin', streamed(next, 512 * 1024));
      assert.ok(same((await f.store.get('t/g/x.bin'))?.data, next));
    });
  });
}
