import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import pino from 'pino';
import {
  initBackend,
  resolveChoice,
  selectBackend,
  type BackendCandidate,
  type BackendName,
} from './backend.js';
import type { Logger } from './logger.js';

/** A logger that records its JSON lines. */
function recordingLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const raw: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void raw.push(line) });
  return { logger, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** A candidate that behaves as told, activating TF.js's real cpu backend when it loads. */
function fake(
  name: BackendName,
  state: 'missing' | 'broken' | 'ok',
  loaded: BackendName[] = [],
): BackendCandidate {
  return {
    name,
    package: `pkg-${name}`,
    tfjsName: 'cpu',
    isInstalled: () => state !== 'missing',
    load: async () => {
      if (state === 'broken') throw new Error(`${name}.node: invalid ELF header`);
      await import('@tensorflow/tfjs-backend-cpu');
      loaded.push(name);
    },
    describe: async () => ({ device: `fake ${name}`, threads: 1 }),
  };
}

describe('selectBackend', () => {
  it('auto: skips missing packages and takes the first that loads', async () => {
    const { logger, lines } = recordingLogger();
    const loaded: BackendName[] = [];
    const info = await selectBackend(
      'auto',
      [
        fake('tensorflow-gpu', 'missing'),
        fake('tensorflow', 'ok', loaded),
        fake('wasm', 'ok', loaded),
      ],
      logger,
    );
    assert.deepEqual(info, {
      name: 'tensorflow',
      package: 'pkg-tensorflow',
      device: 'fake tensorflow',
      threads: 1,
    });
    assert.deepEqual(loaded, ['tensorflow']);
    assert.ok(
      lines().some(
        (l) => l['msg'] === 'backend not installed' && l['backend'] === 'tensorflow-gpu',
      ),
    );
  });

  it('auto: warns about an installed package that fails to load and moves on', async () => {
    const { logger, lines } = recordingLogger();
    const info = await selectBackend(
      'auto',
      [fake('tensorflow', 'broken'), fake('cpu', 'ok')],
      logger,
    );
    assert.equal(info.name, 'cpu');
    const warning = lines().find((l) => l['level'] === 40);
    assert.ok(warning, 'a warning was logged');
    assert.equal(warning['backend'], 'tensorflow');
    assert.match(JSON.stringify(warning['err']), /invalid ELF header/);
  });

  it('auto: fails when nothing loads', async () => {
    const { logger } = recordingLogger();
    await assert.rejects(
      selectBackend('auto', [fake('tensorflow', 'missing'), fake('cpu', 'broken')], logger),
      /no TF.js backend could be loaded \(tried pkg-tensorflow, pkg-cpu\)/,
    );
  });

  it('forced: names the package to install when it is missing', async () => {
    const { logger } = recordingLogger();
    await assert.rejects(
      selectBackend(
        'tensorflow-gpu',
        [fake('tensorflow-gpu', 'missing'), fake('cpu', 'ok')],
        logger,
      ),
      /backend 'tensorflow-gpu' needs the npm package pkg-tensorflow-gpu.*npm install pkg-tensorflow-gpu/,
    );
  });

  it('forced: does not fall back when the package is broken', async () => {
    const { logger } = recordingLogger();
    await assert.rejects(
      selectBackend('tensorflow', [fake('tensorflow', 'broken'), fake('cpu', 'ok')], logger),
      (err: Error) =>
        /failed to load.*invalid ELF header/.test(err.message) && err.cause instanceof Error,
    );
  });
});

describe('resolveChoice', () => {
  it('prefers the option, then MMIM_BACKEND, then auto', () => {
    const saved = process.env['MMIM_BACKEND'];
    try {
      delete process.env['MMIM_BACKEND'];
      assert.equal(resolveChoice(undefined), 'auto');
      process.env['MMIM_BACKEND'] = 'cpu';
      assert.equal(resolveChoice(undefined), 'cpu');
      assert.equal(resolveChoice('wasm'), 'wasm');
      process.env['MMIM_BACKEND'] = 'webgl';
      assert.throws(
        () => resolveChoice(undefined),
        /MMIM_BACKEND is "webgl"; expected one of auto, /,
      );
    } finally {
      if (saved === undefined) delete process.env['MMIM_BACKEND'];
      else process.env['MMIM_BACKEND'] = saved;
    }
  });
});

describe('initBackend (real packages)', () => {
  const quiet = pino({ level: 'silent' });

  it('auto picks wasm here (no native package installed) and sets it up for training', async () => {
    const info = await initBackend({ backend: 'auto', logger: quiet });
    assert.equal(info.name, 'wasm');
    assert.equal(info.package, '@tensorflow/tfjs-backend-wasm');
    assert.match(info.device, /^CPU \(wasm, (SIMD, )?1 thread\)$/);
    assert.equal(info.threads, 1);
    assert.equal(tf.getBackend(), 'wasm');
    // Gradients are registered and the gather gradient (our UnsortedSegmentSum) works.
    const g = tf.grad((w: tf.Tensor) => tf.sum(tf.gather(w, tf.tensor1d([1, 1], 'int32'))))(
      tf.ones([3, 2]),
    );
    assert.deepEqual(Array.from(g.dataSync()), [0, 0, 2, 2, 0, 0]);
  });

  it('is idempotent and logs its choice', async () => {
    const { logger, lines } = recordingLogger();
    const first = await initBackend({ backend: 'cpu', logger });
    const second = await initBackend({ backend: 'cpu', logger });
    assert.equal(second, first);
    assert.equal(tf.getBackend(), 'cpu');
    const ready = lines().filter((l) => l['msg'] === 'TF.js backend ready');
    assert.equal(ready.length, 1);
    assert.equal(ready[0]!['backend'], 'cpu');
  });

  it('switches when asked for another backend', async () => {
    const info = await initBackend({ backend: 'wasm', logger: quiet });
    assert.equal(info.name, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
  });

  it('refuses a forced native backend that is not installed, naming the package', async () => {
    await assert.rejects(
      initBackend({ backend: 'tensorflow', logger: quiet }),
      /npm install @tensorflow\/tfjs-node\)/,
    );
    await assert.rejects(
      initBackend({ backend: 'tensorflow-gpu', logger: quiet }),
      /npm install @tensorflow\/tfjs-node-gpu\)/,
    );
  });

  it('leaves uncaught errors to Node (no minified wasm glue in the report, no hang)', () => {
    const fixture = fileURLToPath(
      new URL('./testing/crash-after-init.fixture.ts', import.meta.url),
    );
    const child = spawnSync(process.execPath, ['--import', 'tsx', fixture], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, MMIM_LOG_LEVEL: 'silent' },
    });
    assert.equal(child.signal, null, 'the process exited on its own');
    assert.equal(child.status, 1);
    assert.match(child.stderr, /deliberate crash after initBackend/);
    assert.doesNotMatch(child.stderr, /WasmBackendModule/);
    assert.ok(child.stderr.length < 5000, `stderr is ${child.stderr.length} characters`);
  });
});
