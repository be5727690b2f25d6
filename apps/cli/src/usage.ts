/**
 * What every command line parser of `mmim` needs and nothing heavy: the usage error (exit code
 * 2), the seed list, and the backend names. main.ts imports only this, commander and node
 * builtins, so `mmim --help` and the API commands do not load TF.js, BullMQ or fastify.
 */

/** A mistake in how the command was called (exit code 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseSeeds(s: string): number[] {
  const seeds = s.split(',').map((x) => Number(x.trim()));
  if (seeds.length === 0 || seeds.some((x) => !Number.isInteger(x) || x < 0)) {
    throw new UsageError(
      `--seeds must be a comma-separated list of non-negative integers, got '${s}'`,
    );
  }
  return seeds;
}

/**
 * The `--backend` choices: @mmim/runtime's BACKEND_CHOICES, written out here because importing
 * the runtime loads TF.js (seconds) before a flag is parsed; a unit test keeps the two equal.
 */
export const BACKEND_FLAG_CHOICES = [
  'auto',
  'tensorflow-gpu',
  'tensorflow',
  'webgpu',
  'wasm',
  'cpu',
] as const;
