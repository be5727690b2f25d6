/**
 * The long chaos schedule: `npm run chaos [-- --seed 1 --faults 12 --workers 3 --configs 4]`.
 * Prints the faults injected, what survived, and the best trial vs a fault-free run.
 */
import { parseArgs } from 'node:util';
import { runChaos } from '../../test/chaos/run-chaos.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    faults: { type: 'string', default: '12' },
    workers: { type: 'string', default: '3' },
    configs: { type: 'string', default: '4' },
    epochs: { type: 'string', default: '3' },
    window: { type: 'string', default: '240' },
  },
});

const report = await runChaos({
  seed: Number(values.seed),
  workers: Number(values.workers),
  faults: Number(values.faults),
  windowMs: Number(values.window) * 1000,
  configs: Number(values.configs),
  seeds: [1111, 1112],
  epochs: Number(values.epochs),
  log: (line) => process.stderr.write(`${line}\n`),
});
const byKind = (k: string): number => report.injected.filter((f) => f.kind === k).length;
process.stdout.write(
  `${JSON.stringify(
    {
      faultsInjected: report.injected.length,
      workerKills: byKind('worker'),
      coordinatorKills: byKind('coordinator'),
      redisKills: byKind('redis'),
      trials: report.trials,
      completed: report.completed,
      endedExactlyOnce: report.endedOnce,
      epochsIntact: report.epochsIntact,
      problems: report.problems,
      bestTrial: report.bestTrialId,
      bestVsFaultFreeMaxRelDiff: report.bestVsFaultFree.worst,
      seconds: report.seconds,
    },
    null,
    2,
  )}\n`,
);
process.exit(
  report.endedOnce && report.epochsIntact && report.bestVsFaultFree.worst < 1e-5 ? 0 : 1,
);
