/** libs/trainer's config files, YAML and JSON, built as `mmim train --config` builds them. */
import { TrainerConfigError, buildTrainerConfig } from '@mmim/trainer';
import type { FuzzTarget } from '../harness/check.js';
import { scratchFile } from './scratch.js';

export const trainerYamlTarget: FuzzTarget = {
  name: 'trainer-config-yaml',
  text: true,
  errorClasses: [TrainerConfigError],
  // Preset, then the file: the path `mmim train --config` and trial specs take.
  run: (bytes) => buildTrainerConfig({ file: scratchFile('.yaml', bytes) }),
};

export const trainerJsonTarget: FuzzTarget = {
  name: 'trainer-config-json',
  text: true,
  errorClasses: [TrainerConfigError],
  run: (bytes) => buildTrainerConfig({ file: scratchFile('.json', bytes) }),
};
