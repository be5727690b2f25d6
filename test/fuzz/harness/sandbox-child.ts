/**
 * The sandbox's child process: runs fuzz inputs for the parent (sandbox.ts) and answers with
 * the judged outcome. A parser that kills its process (a V8 fatal error, a native abort) or
 * hangs takes only this child down; the parent records the input and starts a new child.
 */
import { runOne, type Budget } from './check.js';
import { disposeScratch, loadTarget } from '../targets/index.js';
import type { Judged } from './sandbox.js';

interface Request {
  id: number;
  target: string;
  bytes: Uint8Array;
  budget: Budget;
}

// The YAML library reports odd-but-legal input as process warnings; they are noise here.
process.removeAllListeners('warning');

const send = (m: unknown): void => {
  process.send?.(m);
};

process.on('message', (m: Request | { prepare: string }) => {
  void (async () => {
    // Importing a target's libraries takes seconds on a busy machine: done before the clock runs.
    if ('prepare' in m) {
      await loadTarget(m.prepare);
      send({ prepared: m.prepare });
      return;
    }
    const o = await runOne(await loadTarget(m.target), m.bytes, m.budget);
    const judged: Judged =
      o.kind === 'crash'
        ? {
            kind: 'crash',
            ms: o.ms,
            growth: o.growth,
            reason: o.reason,
            stack: o.error instanceof Error ? (o.error.stack ?? o.error.message) : String(o.error),
          }
        : { kind: o.kind, ms: o.ms, growth: o.growth };
    send({ id: m.id, judged });
  })();
});
process.on('disconnect', () => {
  disposeScratch();
  process.exit(0);
});
send({ ready: true });
