/**
 * The exit status of every `mmim` command, as README.md and docs/protocol.md document it:
 * 0 ok, 1 failed, 2 bad usage (a flag, a value, a config or a request the coordinator found
 * invalid or too large), 3 refused (the coordinator refused our token: a worker's join token,
 * an API call's admin token).
 */
import { CommanderError } from 'commander';
import { ApiError } from './cluster/api-client.js';
import { UsageError } from './usage.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, refused: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** API answers that say the request itself was wrong, and those that refuse the caller. */
const USAGE_STATUSES = new Set([400, 413]);
const REFUSED_STATUSES = new Set([401, 403]);

export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  // A bad trainer config, by name: importing @mmim/trainer here would load TF.js for `--help`.
  if (err instanceof UsageError || (err instanceof Error && err.name === 'TrainerConfigError'))
    return EXIT.usage;
  if (err instanceof ApiError) {
    if (USAGE_STATUSES.has(err.status)) return EXIT.usage;
    if (REFUSED_STATUSES.has(err.status)) return EXIT.refused;
    return EXIT.failed;
  }
  // The worker's errors, by name: importing @mmim/worker here would load it for every command.
  if (err instanceof Error && err.name === 'WorkerUsageError') return EXIT.usage;
  if (err instanceof Error && err.name === 'FatalJoinError') return EXIT.refused;
  return EXIT.failed;
}
