/**
 * `mmim --help` and the API commands answer at once because main.ts loads only light modules
 * (commander, node builtins, a few of ours) and each command loads its own code when it runs.
 * This walks main.ts's static, non-type imports through our own files and fails if any reaches
 * TF.js, the trainer, the coordinator, BullMQ or fastify (bench/cli has the timings). And the
 * `--backend` choices written out for that reason are the runtime's.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BACKEND_CHOICES } from '@mmim/runtime';
import { BACKEND_FLAG_CHOICES } from './usage.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const HEAVY = [
  /^@tensorflow\//,
  /^@mmim\/(runtime|model|trainer|data|coordinator|worker|param-server)$/,
  /^bullmq$/,
  /^fastify$/,
];

/** Every package a file's static value imports reach through our own files. */
function packagesReached(file: string, seen = new Set<string>()): Map<string, string> {
  const out = new Map<string, string>();
  if (seen.has(file)) return out;
  seen.add(file);
  const text = fs.readFileSync(file, 'utf8');
  // `import x from 'y'` and `export ... from 'y'`, but not `import type` / `export type`.
  for (const m of text.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+'([^']+)'/gms)) {
    const spec = m[1] ?? '';
    if (spec.startsWith('.')) {
      const target = path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts'));
      for (const [p, via] of packagesReached(target, seen)) if (!out.has(p)) out.set(p, via);
    } else if (!out.has(spec)) out.set(spec, path.relative(here, file));
  }
  return out;
}

describe('the CLI starts light', () => {
  it("main.ts's static imports reach no heavy package", () => {
    const reached = packagesReached(path.join(here, 'main.ts'));
    const heavy = [...reached].filter(([p]) => HEAVY.some((h) => h.test(p)));
    assert.deepEqual(
      heavy.map(([p, via]) => `${p} (imported by ${via})`),
      [],
    );
    assert.ok(reached.has('commander'), 'the walk found the imports');
  });

  it('offers the runtime backends as --backend choices', () => {
    assert.deepEqual([...BACKEND_FLAG_CHOICES].sort(), [...BACKEND_CHOICES].sort());
  });
});
