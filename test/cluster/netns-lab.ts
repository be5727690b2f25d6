/**
 * Hosts for tests, as Linux network namespaces on this machine (root only): a `hub` namespace
 * holding a bridge, and one namespace per host joined to it by a veth pair, each host with its
 * own address on a private /24 that exists only inside these namespaces. Processes run in a
 * host with `ip netns exec`; `partition(host)` takes the host's link down at the hub (its
 * processes keep running, cut off), `heal(host)` brings it back. `destroy()` kills what was
 * started and deletes every namespace (which deletes the veths and the bridge with them).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

export interface LabProcess {
  host: string;
  proc: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export class NetnsLab {
  readonly processes: LabProcess[] = [];
  private readonly prefix: string;
  private readonly index = new Map<string, number>();

  private constructor(readonly hosts: readonly string[]) {
    this.prefix = `mmim${process.pid % 100000}`;
  }

  /** Creates the hub and one namespace per host (addresses 10.231.0.10, .11, ... in order). */
  static create(hosts: readonly string[]): NetnsLab {
    if (process.getuid?.() !== 0) throw new Error('NetnsLab needs root (ip netns, veth)');
    const lab = new NetnsLab(hosts);
    try {
      lab.build();
    } catch (err) {
      lab.destroy();
      throw err;
    }
    return lab;
  }

  private ns(host: string): string {
    return `${this.prefix}-${host}`;
  }

  private get hub(): string {
    return `${this.prefix}-hub`;
  }

  private build(): void {
    ip('netns', 'add', this.hub);
    ip('-n', this.hub, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', this.hub, 'link', 'set', 'br0', 'up');
    this.hosts.forEach((host, i) => {
      this.index.set(host, i);
      const ns = this.ns(host);
      ip('netns', 'add', ns);
      // The pair is made in the hub with its peer straight in the host: never in our namespace.
      ip(
        '-n',
        this.hub,
        'link',
        'add',
        `vb${i}`,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        ns,
      );
      ip('-n', this.hub, 'link', 'set', `vb${i}`, 'master', 'br0', 'up');
      ip('-n', ns, 'addr', 'add', `${this.address(host)}/24`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    });
  }

  address(host: string): string {
    const i = this.index.get(host);
    if (i === undefined) throw new Error(`no host ${host}`);
    return `10.231.0.${10 + i}`;
  }

  /** Starts `argv` in `host`; stdout is piped (for start-up events), stderr goes to `logFile`. */
  start(host: string, argv: string[], logFile: string, env: NodeJS.ProcessEnv = {}): LabProcess {
    const out = fs.openSync(logFile, 'a');
    const proc = spawn('ip', ['netns', 'exec', this.ns(host), ...argv], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', out],
    });
    fs.closeSync(out);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      proc.once('exit', (code, signal) => r({ code, signal })),
    );
    const p = { host, proc, exited };
    this.processes.push(p);
    return p;
  }

  /** Runs `argv` in `host` to completion; its stdout. */
  run(host: string, argv: string[], env: NodeJS.ProcessEnv = {}): string {
    return execFileSync('ip', ['netns', 'exec', this.ns(host), ...argv], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
      timeout: 60_000,
      maxBuffer: 256 << 20,
    });
  }

  /** Cuts `host` off: its link is down at the hub (nothing reaches it, nothing leaves). */
  partition(host: string): void {
    ip('-n', this.hub, 'link', 'set', `vb${this.index.get(host)}`, 'down');
  }

  heal(host: string): void {
    ip('-n', this.hub, 'link', 'set', `vb${this.index.get(host)}`, 'up');
  }

  /** Kills every process started here and deletes every namespace; safe to call twice. */
  destroy(): void {
    for (const p of this.processes) if (p.proc.exitCode === null) p.proc.kill('SIGKILL');
    // `ip netns exec` forks: kill what still runs inside each namespace too.
    for (const ns of [...this.hosts.map((h) => this.ns(h)), this.hub]) {
      try {
        const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' })
          .split('\n')
          .filter((l) => l.trim() !== '');
        for (const pid of pids) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // already gone
          }
        }
        ip('netns', 'del', ns);
      } catch {
        // not created, or already deleted
      }
    }
  }
}
