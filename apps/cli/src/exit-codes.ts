/**
 * The exit status of every `mmim` command, as README.md and docs/protocol.md document it:
 * 0 ok, 1 failed, 2 bad usage (a flag, a value, a config or a request the coordinator found
 * invalid or too large), 3 refused (the coordinator refused our token: a worker's join token,
 * an API call's admin token).
 */
import { CommanderError } from 'commander';
import type { ApiError } from './cluster/api-client.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, refused: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** API answers that say the request itself was wrong, and those that refuse the caller. */
const USAGE_STATUSES = new Set([400, 413]);
const REFUSED_STATUSES = new Set([401, 403]);

/**
 * Errors are told apart by name, not class: the compiled CLI holds its own copy of usage.ts and
 * api-client.ts, and the commands it loads from their sources throw the sources' classes.
 */
const named = (err: unknown, name: string): err is Error =>
  err instanceof Error && err.name === name;

export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  // A bad trainer config, by name: importing @mmim/trainer here would load TF.js for `--help`.
  if (named(err, 'UsageError') || named(err, 'TrainerConfigError')) return EXIT.usage;
  if (named(err, 'ApiError')) {
    const { status } = err as ApiError;
    if (USAGE_STATUSES.has(status)) return EXIT.usage;
    if (REFUSED_STATUSES.has(status)) return EXIT.refused;
    return EXIT.failed;
  }
  // The worker's errors, by name: importing @mmim/worker here would load it for every command.
  if (named(err, 'WorkerUsageError')) return EXIT.usage;
  if (named(err, 'FatalJoinError')) return EXIT.refused;
  return EXIT.failed;
}
