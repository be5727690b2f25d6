/**
 * `mmim up` as a user runs it, for the tests of what it does as a process: its console lines,
 * the processes it starts (read from /proc, so nothing it says about itself is trusted).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

export interface Up {
  proc: ChildProcess;
  lines: string[];
  /** Its stdout ended: every line it printed is in `lines`. */
  ended: () => boolean;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

/** `mmim up --run-dir runDir ...args`, its stdout collected line by line, stderr to a file. */
export function up(runDir: string, args: string[]): Up {
  fs.mkdirSync(runDir, { recursive: true });
  // One file per start: a test may start it twice on one run dir.
  const errFile = path.join(fs.mkdtempSync(path.join(runDir, 'mmim-up-')), 'stderr');
  const proc = spawn(
    process.execPath,
    ['apps/cli/bin/mmim.js', 'up', '--run-dir', runDir, ...args],
    {
      env: { ...process.env, MMIM_LOG_LEVEL: 'warn', MMIM_BACKEND: 'wasm' },
      stdio: ['ignore', 'pipe', fs.openSync(errFile, 'w')],
    },
  );
  const lines: string[] = [];
  let ended = false;
  readline
    .createInterface({ input: proc.stdout! })
    .on('line', (l) => lines.push(l))
    .on('close', () => {
      ended = true;
    });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    proc.once('exit', (code, signal) => r({ code, signal })),
  );
  return {
    proc,
    lines,
    ended: () => ended,
    exited,
    stderr: () => fs.readFileSync(errFile, 'utf8'),
  };
}

/**
 * The first console line matching `re` (from line `from` on); fails at once when `mmim up`
 * has exited without printing it, else after `timeoutMs`.
 */
export async function line(
  u: Up,
  re: RegExp,
  timeoutMs: number,
  from = 0,
): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exited = u.ended();
    const found = u.lines
      .slice(from)
      .map((l) => l.match(re))
      .find((m) => m !== null);
    if (found) return found;
    if (exited || Date.now() > deadline) {
      throw new Error(
        `${exited ? 'mmim up exited' : `timed out after ${timeoutMs} ms`} without a line matching ${re}; ` +
          `it printed:\n${u.lines.join('\n')}\nstderr:\n${u.stderr()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every live descendant of `root`, with its command line (from /proc). */
export function descendants(root: number): { pid: number; cmd: string }[] {
  const parent = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces, so split after its closing bracket.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(entry), ppid);
    } catch {
      // exited while we looked
    }
  }
  const out: { pid: number; cmd: string }[] = [];
  const walk = (p: number): void => {
    for (const [pid, ppid] of parent) {
      if (ppid !== p) continue;
      let cmd = '';
      try {
        cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      } catch {
        continue;
      }
      out.push({ pid, cmd });
      walk(pid);
    }
  };
  walk(root);
  return out;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
