/**
 * Every parser of outside input, as a fuzz target: how a user's bytes reach it (a buffer, a
 * text or a file path, exactly as the apps call it) and the error class it documents. Each
 * lib's targets load on demand, so a sandbox child imports only what it fuzzes. The gRPC
 * handlers are fuzzed through the real server instead (../grpc-fuzz.ts).
 */
import type { FuzzTarget } from '../harness/check.js';

export { disposeScratch } from './scratch.js';

const LOADERS: Record<string, () => Promise<FuzzTarget>> = {
  pickle: async () => (await import('./data.js')).pickleTarget,
  'pickle-lazy': async () => (await import('./data.js')).pickleLazyTarget,
  'dataset-pickle': async () => (await import('./data.js')).datasetPickleTarget,
  safetensors: async () => (await import('./runtime.js')).safetensorsTarget,
  'trainer-config-yaml': async () => (await import('./trainer.js')).trainerYamlTarget,
  'trainer-config-json': async () => (await import('./trainer.js')).trainerJsonTarget,
  'sweep-yaml': async () => (await import('./sweep.js')).sweepYamlTarget,
  'label-csv': async () => (await import('./data.js')).labelCsvTarget,
};

export const TARGET_NAMES: readonly string[] = Object.keys(LOADERS);

export async function loadTarget(name: string): Promise<FuzzTarget> {
  const load = LOADERS[name];
  if (!load) throw new Error(`no fuzz target '${name}' (have: ${TARGET_NAMES.join(', ')})`);
  return load();
}
