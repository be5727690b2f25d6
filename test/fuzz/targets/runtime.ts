/** libs/runtime's safetensors parser (checkpoints, exported weights). */
import { SafetensorsError, parseSafetensors } from '@mmim/runtime';
import type { FuzzTarget } from '../harness/check.js';

export const safetensorsTarget: FuzzTarget = {
  name: 'safetensors',
  text: false,
  errorClasses: [SafetensorsError],
  run: (bytes) => parseSafetensors(bytes, 'fuzz.safetensors'),
};
