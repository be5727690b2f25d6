/**
 * `npm test` on a fresh machine (issue 16): its `pretest` (scripts/test-deps.sh) finds every
 * system package the suite needs. Here everything is installed, so it passes silently; with a
 * package hidden (a private mount namespace) and run as an unprivileged user, it fails naming the
 * package, why the tests need it and the apt command (as root it would install it instead).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const script = path.join(root, 'scripts/test-deps.sh');

describe('scripts/test-deps.sh (npm pretest)', () => {
  it('is quiet and succeeds when every system package is there', () => {
    const r = spawnSync('bash', [script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
  });

  it('names a missing package, why, and how to install it, and fails when it cannot install', () => {
    assert.equal(process.getuid?.(), 0, 'this test makes a mount namespace: run as root (CI does)');
    // The unprivileged user must be able to read the script: a checkout may sit in a directory
    // only root can enter (a fresh clone into mktemp -d, mode 0700), so it runs a readable copy.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'test-deps-'));
    const copy = path.join(dir, 'test-deps.sh');
    fs.copyFileSync(script, copy);
    fs.chmodSync(dir, 0o755);
    fs.chmodSync(copy, 0o755);
    const r = spawnSync(
      'unshare',
      [
        ...['--mount', '--propagation', 'private', 'sh', '-c'],
        // Hide chromium, then run as nobody (no apt-get rights).
        `mount --bind /dev/null /usr/bin/chromium && exec setpriv --reuid 65534 --regid 65534 --clear-groups bash ${copy}`,
      ],
      { encoding: 'utf8' },
    );
    fs.rmSync(dir, { recursive: true, force: true });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /chromium: dashboard browser tests/);
    assert.match(r.stderr, /apt-get install -y chromium\b/);
    assert.doesNotMatch(r.stderr, /redis-server|kubernetes-client/, 'only what is missing');
  });
});
