/**
 * The short fuzz run of every file parser (the long one is `npm run fuzz`): each committed seed,
 * then a fixed-seed batch of mutated seeds and random bytes. A parser must return a value or
 * throw its documented error class with a message, within the time and memory budget. Inputs
 * in test/fuzz/crashes/<target>/ are known, unfixed crashes: they are reported, not asserted.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertNoCrash, knownCrashSignatures } from './harness/campaign.js';
import { runOne, type Budget } from './harness/check.js';
import { Sandbox, inProcess } from './harness/sandbox.js';
import { disposeScratch, loadTarget } from './targets/index.js';

/** Generous on a shared 2-core machine: the property is about hangs and blow-ups, not speed. */
const BUDGET: Budget = { ms: 4000, arrayBufferBytes: 64 * 1024 * 1024 };

/**
 * Runs per target (about 2 s each here). The YAML parsers run in a sandbox child: deep nesting
 * can abort the whole process (test/fuzz/crashes/README.md), which must not take the suite down.
 */
const PLAN: { name: string; runs: number; sandboxed: boolean }[] = [
  { name: 'pickle', runs: 500, sandboxed: false },
  { name: 'pickle-lazy', runs: 300, sandboxed: false },
  { name: 'dataset-pickle', runs: 150, sandboxed: false },
  { name: 'safetensors', runs: 3000, sandboxed: false },
  { name: 'trainer-config-json', runs: 300, sandboxed: false },
  { name: 'label-csv', runs: 250, sandboxed: false },
  { name: 'trainer-config-yaml', runs: 120, sandboxed: true },
  { name: 'sweep-yaml', runs: 120, sandboxed: true },
];

describe('fuzz: file parsers (short run, fixed seed)', () => {
  const sandbox = new Sandbox();
  // The child's imports (the trainer pulls in TF.js) overlap the in-process targets' runs.
  for (const { name } of PLAN.filter((p) => p.sandboxed))
    sandbox.prepare(name).catch(() => undefined);
  after(() => {
    sandbox.close();
    disposeScratch();
  });

  for (const { name, runs, sandboxed } of PLAN) {
    it(`${name}: a value or the documented error, within budget`, async () => {
      const target = await loadTarget(name);
      const runner = sandboxed ? sandbox.run : inProcess;
      const stats = await assertNoCrash(target, { seed: 20261129, runs, budget: BUDGET, runner });
      // The mutations reach both outcomes: some inputs still parse, most are refused cleanly.
      assert.ok(stats.values > 0, `${name}: no input parsed`);
      assert.ok(stats.refused > 0, `${name}: no input was refused`);
      console.log(
        `  ${name}: ${stats.executions} executions in ${stats.seconds.toFixed(1)} s, ` +
          `${stats.values} parsed, ${stats.refused} refused, ${stats.knownCrashes} known crashes, ` +
          `slowest ${stats.maxMs.toFixed(0)} ms` +
          (stats.known.size > 0 ? `; excused: ${[...stats.known].join(' | ')}` : ''),
      );
    });
  }

  it('the budget check itself catches a blow-up and a foreign error class', async () => {
    const pickle = await loadTarget('pickle');
    const allocates = { ...pickle, run: () => new Uint8Array(128 * 1024 * 1024) };
    assert.equal((await runOne(allocates, new Uint8Array(8), BUDGET)).kind, 'crash');
    const throwsRange = {
      ...pickle,
      run: () => {
        throw new RangeError('Array buffer allocation failed');
      },
    };
    const r = await runOne(throwsRange, new Uint8Array(8), BUDGET);
    assert.ok(r.kind === 'crash' && /RangeError/.test(r.reason));
    // A target with no crash folder excuses nothing.
    assert.equal((await knownCrashSignatures({ ...pickle, name: 'no-such-target' })).size, 0);
  });
});
