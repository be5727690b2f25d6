/**
 * The coordinator's output is JSON lines only, even when its Redis goes away (issue 15 item 6):
 * BullMQ's and ioredis' connection errors go through the logger with their stack, not to the
 * console as multi-line traces. A real coordinator process on a real redis-server, with the
 * dashboard's change stream open (its own Redis connection), and the server stopped under it.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRedisServer, type RedisServerHandle } from '@mmim/param-server/testing';
import { COORDINATOR_MAIN } from '../testing/processes.js';
import { SHUTDOWN_GRACE_MS } from '../run.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-logs-'));
const tokenFile = path.join(dir, 'token');
fs.writeFileSync(tokenFile, 'logs-test-join-token-0123456789abcdef\n');

interface Output {
  stdout: string;
  stderr: string;
}

function untilText(out: Output, pattern: RegExp, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (pattern.test(out.stdout + out.stderr)) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(poll, 100);
    };
    poll();
  });
}

/** Every non-empty line parsed as JSON; a line that is not JSON fails the test, quoted. */
function jsonLines(text: string, stream: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      try {
        const v = JSON.parse(line) as unknown;
        assert.ok(v !== null && typeof v === 'object', `${stream}: not an object: ${line}`);
        return v as Record<string, unknown>;
      } catch {
        return assert.fail(`${stream}: not a JSON line: ${line}`);
      }
    });
}

describe('coordinator logs when Redis goes away', { timeout: 120_000 }, () => {
  let redis: RedisServerHandle;
  let coordinator: ChildProcess;
  const out: Output = { stdout: '', stderr: '' };
  let events: http.ClientRequest | null = null;

  before(async () => {
    redis = await startRedisServer();
    coordinator = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        COORDINATOR_MAIN,
        ...['--port', '0', '--http-port', '0', '--token-file', tokenFile],
        ...['--redis', `redis://127.0.0.1:${redis.port}`],
      ],
      { env: { ...process.env, MMIM_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    coordinator.stdout!.on('data', (d: Buffer) => (out.stdout += d.toString()));
    coordinator.stderr!.on('data', (d: Buffer) => (out.stderr += d.toString()));
    await untilText(out, /"event":"listening"/, 60_000, 'the listening line');
    const listening = jsonLines(out.stdout, 'stdout').find((l) => l['event'] === 'listening');
    const url = new URL(String(listening?.['http']));
    // The change stream subscribes on a connection of its own: it must be covered too.
    await new Promise<void>((resolve, reject) => {
      events = http.get({ host: url.hostname, port: url.port, path: '/api/events' }, (res) => {
        res.on('data', (d: Buffer) => {
          if (d.toString().includes(': connected')) resolve();
        });
        res.on('error', () => undefined);
      });
      events.on('error', reject);
    });
  });

  after(async () => {
    events?.destroy();
    if (coordinator.exitCode === null && coordinator.signalCode === null) {
      const exited = new Promise((r) => coordinator.once('exit', r));
      coordinator.kill('SIGKILL');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('prints only JSON lines, the connection errors logged with their stack', async () => {
    await redis.stop();
    // Reconnection attempts back off; a few seconds give every connection (the commands', the
    // queue's, the blocking worker's, the change stream's) several failures.
    await untilText(out, /ECONNREFUSED[\s\S]*ECONNREFUSED[\s\S]*ECONNREFUSED/, 30_000, 'errors');
    await new Promise((r) => setTimeout(r, 4000));
    // Before: raw `Error: connect ECONNREFUSED ...` traces and `[ioredis] Unhandled error
    // event` lines among the JSON, and `{"err":"connect ECONNREFUSED ..."}` without a stack.
    const records = [...jsonLines(out.stdout, 'stdout'), ...jsonLines(out.stderr, 'stderr')];
    const errors = records.filter((r) => JSON.stringify(r['err'] ?? '').includes('ECONNREFUSED'));
    assert.ok(errors.length > 0, 'the connection errors are logged');
    // BullMQ's (the trial queue's) errors were the raw traces: they come through the logger.
    assert.ok(
      errors.some((r) => r['msg'] === 'trial queue connection error'),
      'the queue connection errors are logged',
    );
    for (const r of errors) {
      const err = r['err'] as { message?: string; stack?: string; code?: string } | string;
      assert.equal(typeof err, 'object', `err serialised with its stack: ${JSON.stringify(r)}`);
      if (typeof err === 'object') {
        assert.match(err.stack ?? '', /ECONNREFUSED[\s\S]*\n\s+at /, JSON.stringify(r));
        assert.equal(err.code, 'ECONNREFUSED');
      }
    }
  });

  it('exits on SIGTERM with its Redis gone, within the shutdown grace, saying why', async () => {
    // Before: the close waited on Redis forever and only SIGKILL ended the process.
    const sent = Date.now();
    const exited = new Promise<number | null>((r) => coordinator.once('exit', (code) => r(code)));
    coordinator.kill('SIGTERM');
    const code = await Promise.race([
      exited,
      new Promise<'running'>((r) => setTimeout(() => r('running'), SHUTDOWN_GRACE_MS + 15_000)),
    ]);
    assert.notEqual(code, 'running', 'still running long after SIGTERM');
    assert.equal(code, 1);
    assert.ok(Date.now() - sent >= SHUTDOWN_GRACE_MS - 1000, 'it waited for the close first');
    const records = [...jsonLines(out.stdout, 'stdout'), ...jsonLines(out.stderr, 'stderr')];
    assert.ok(records.some((r) => r['msg'] === 'shutting down' && r['signal'] === 'SIGTERM'));
    assert.ok(
      records.some((r) => String(r['msg']).startsWith('shutdown did not finish in time')),
      'the reason is logged',
    );
  });
});
