/**
 * Secrets never go on the command line: every user of the machine reads a process's argv (`ps`,
 * /proc/PID/cmdline). The coordinator and the worker refuse a token flag with a message that
 * says where the token goes instead, rather than commander's or parseArgs' "unknown option".
 */

/** `--token` spelled either way (`--token T`, `--token=T`). */
function given(argv: readonly string[], flag: string): boolean {
  return argv.some((a) => a === flag || a.startsWith(`${flag}=`));
}

/**
 * The message refusing the first of `refused`'s flags that `argv` holds, or null. `refused`
 * maps each flag to where its secret goes instead (`--token-file FILE or MMIM_JOIN_TOKEN`).
 */
export function secretFlagProblem(
  argv: readonly string[],
  refused: Readonly<Record<string, string>>,
): string | null {
  for (const [flag, instead] of Object.entries(refused)) {
    if (given(argv, flag))
      return `${flag} is refused: a secret on the command line is visible to every user of the machine (ps); use ${instead}`;
  }
  return null;
}
