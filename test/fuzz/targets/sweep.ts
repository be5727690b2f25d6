/** libs/sweep's sweep file, as the coordinator's POST /api/sweeps takes it, then its sampler. */
import {
  SweepConfigError,
  createSampler,
  gridSize,
  parseSweepYaml,
  samplerHistory,
} from '@mmim/sweep';
import { trainerConfigSchema } from '@mmim/trainer';
import type { FuzzTarget } from '../harness/check.js';

const utf8 = new TextDecoder('utf-8');

export const sweepYamlTarget: FuzzTarget = {
  name: 'sweep-yaml',
  text: true,
  errorClasses: [SweepConfigError],
  run: (bytes) => {
    const spec = parseSweepYaml(utf8.decode(bytes), {
      trainerSchema: trainerConfigSchema,
      source: 'fuzz.yaml',
    });
    if (spec.method === 'grid') gridSize(spec.parameters);
    return createSampler(spec).ask(samplerHistory([]), 0);
  },
};
