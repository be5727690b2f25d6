import pino from 'pino';

/** The structured logger used across the project (pino). */
export type Logger = pino.Logger;

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/**
 * A pino logger named `name` that writes JSON lines to stderr, so stdout stays free for a
 * command's real output. The level comes from `MMIM_LOG_LEVEL` (default `info`); an unknown
 * level is an error rather than a silently ignored setting.
 */
export function createLogger(name: string): Logger {
  const level = process.env['MMIM_LOG_LEVEL'] ?? 'info';
  if (!LEVELS.has(level)) {
    throw new Error(
      `MMIM_LOG_LEVEL=${JSON.stringify(level)} is not a pino level (${[...LEVELS].join(', ')})`,
    );
  }
  return pino({ name, level }, pino.destination({ fd: 2, sync: true }));
}
