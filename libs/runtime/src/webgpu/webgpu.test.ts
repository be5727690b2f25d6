/**
 * The webgpu backend on this machine: forced, it runs on Mesa's llvmpipe through Dawn's OpenGL ES
 * route and says so; 'auto' never takes a CPU rasteriser; a missing system piece is reported in
 * one line naming it; a worker thread can use it once the main thread prepared the environment.
 * Real child processes; the missing EGL vendor is produced in a private mount namespace (root).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import pino from 'pino';
import { initBackend } from '../backend.js';
import { isSoftwareAdapter } from './adapter.js';
import { missingPieces, type SystemLibraries } from './system-libraries.js';

const quiet = pino({ level: 'silent' });
const fixture = (name: string): string =>
  fileURLToPath(new URL(`../testing/${name}`, import.meta.url));

/**
 * Runs a fixture in a child process; with `namespaceSetup`, inside a private mount namespace
 * after that shell command (so mounts there are invisible to the rest of the machine).
 */
function runFixture(
  name: string,
  opts: { env?: NodeJS.ProcessEnv; namespaceSetup?: string } = {},
): { status: number | null; lines: Record<string, unknown>[]; stderr: string } {
  const node = [process.execPath, '--import', 'tsx', fixture(name)];
  const [cmd, ...args] =
    opts.namespaceSetup === undefined
      ? node
      : [
          'unshare',
          '--mount',
          '--propagation',
          'private',
          'sh',
          '-c',
          `${opts.namespaceSetup} && exec ${node.join(' ')}`,
        ];
  const child = spawnSync(cmd as string, args, {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, MMIM_LOG_LEVEL: 'silent', ...opts.env },
  });
  const lines = child.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { status: child.status, lines, stderr: child.stderr };
}

describe('webgpu backend (Dawn)', () => {
  it('forced: runs on the OpenGL ES route and describes the adapter as a CPU rasteriser', async () => {
    const info = await initBackend({ backend: 'webgpu', logger: quiet });
    assert.equal(info.name, 'webgpu');
    assert.equal(tf.getBackend(), 'webgpu');
    assert.ok(info.adapter !== undefined, 'adapter info is reported');
    assert.equal(info.adapter.route, 'opengles');
    assert.equal(info.adapter.software, true);
    assert.match(info.adapter.device, /llvmpipe/);
    assert.match(info.device, /^CPU rasteriser \(WebGPU\/OpenGL ES\): llvmpipe/);
    assert.ok(info.adapter.limits.maxStorageBufferBindingSize > 0);
    // It computes, and results come back through the asynchronous read.
    const y = tf.matMul(tf.ones([16, 8]), tf.ones([8, 4]));
    assert.deepEqual(Array.from(await y.data()), new Array(64).fill(8));
    // A synchronous read of a GPU tensor is what the step must never do: it fails in Node.
    assert.throws(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])).dataSync());
  });

  it('auto never takes a CPU rasteriser (here: wasm, though webgpu is installed)', async () => {
    const info = await initBackend({ backend: 'auto', logger: quiet });
    assert.ok(
      info.name !== 'webgpu' || info.adapter?.software === false,
      `auto chose ${info.name} (${info.device})`,
    );
    assert.equal(info.name, 'wasm', 'no hardware GPU on this machine');
  });

  it('names the missing piece in one line when there is no adapter (no EGL vendor)', () => {
    assert.equal(process.getuid?.(), 0, 'this test makes a mount namespace: run as root (CI does)');
    const r = runFixture('webgpu-init.fixture.ts', {
      // An empty tmpfs over glvnd's vendor directory: libEGL finds no implementation.
      namespaceSetup: 'mount -t tmpfs none /usr/share/glvnd/egl_vendor.d',
    });
    assert.equal(r.status, 1, r.stderr);
    const [line] = r.lines;
    assert.equal(line?.['ok'], false);
    const message = String(line?.['message']);
    assert.ok(!message.includes('\n'), `one line: ${message}`);
    assert.match(message, /^backend 'webgpu' .* no WebGPU adapter \(.*no EGL vendor manifest/);
  });

  it('works from a worker thread once the main thread prepared the environment', () => {
    const env = { ...process.env };
    delete env['EGL_PLATFORM'];
    const r = runFixture('webgpu-thread.fixture.ts', { env });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.lines[0], { backend: 'webgpu', sum: 32768 });
  });
});

describe('webgpu diagnostics', () => {
  const none: SystemLibraries = {
    vulkanLoader: null,
    vulkanIcds: [],
    egl: null,
    eglVendors: [],
    gpuDeviceNodes: [],
  };

  it('names each missing library and manifest, per route', () => {
    const m = missingPieces(none);
    assert.deepEqual(m.vulkan, [
      'libvulkan.so.1 not found (Debian: libvulkan1)',
      'no Vulkan ICD manifest (e.g. nvidia_icd.json in /usr/share/vulkan/icd.d)',
    ]);
    assert.deepEqual(m.opengles, [
      'libEGL.so.1 not found (Debian: libegl1 libegl-mesa0 libgles2)',
      'no EGL vendor manifest (glvnd egl_vendor.d)',
    ]);
    const softwareOnly = missingPieces({
      ...none,
      vulkanLoader: '/usr/lib/x86_64-linux-gnu/libvulkan.so.1',
      vulkanIcds: ['/usr/share/vulkan/icd.d/lvp_icd.x86_64.json'],
    });
    assert.deepEqual(softwareOnly.vulkan, ['only software Vulkan ICDs (lvp_icd.x86_64.json)']);
    const nvidia = missingPieces({
      ...none,
      vulkanLoader: '/usr/lib/x86_64-linux-gnu/libvulkan.so.1',
      vulkanIcds: ['/etc/vulkan/icd.d/nvidia_icd.json'],
    });
    assert.deepEqual(nvidia.vulkan, []);
  });

  it('recognises CPU rasterisers by name or fallback flag', () => {
    const plain = { device: '', description: '' };
    assert.equal(isSoftwareAdapter({ ...plain, device: 'llvmpipe-llvm-15-0-6-256-bits-' }), true);
    assert.equal(
      isSoftwareAdapter({ ...plain, description: 'SwiftShader Device (Subzero)' }),
      true,
    );
    assert.equal(isSoftwareAdapter({ ...plain, device: 'NVIDIA H200' }), false);
    assert.equal(isSoftwareAdapter({ ...plain, device: 'x', isFallbackAdapter: true }), true);
  });
});
