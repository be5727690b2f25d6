/**
 * DNS-rebinding protection: a page on `evil.example` that re-points its name at 127.0.0.1 makes
 * the browser send its requests to our loopback dashboard, with `Host: evil.example`. The
 * browser's same-origin rule then lets that page read the answers, and reads are open on
 * loopback. So requests are served only when their `Host` (and `Origin`, when a browser sends
 * one) names an address the dashboard is actually served on:
 *
 * - bound to loopback: `127.0.0.1`, `localhost` and `[::1]`, at the bound port;
 * - bound to one address: that address at the bound port;
 * - bound to every address (`0.0.0.0`, `::`): only the allow-list can say which names are ours,
 *   so without one nothing is checked (reads need the token there anyway);
 * - plus `allowedHosts` (`--http-allowed-hosts`): names for a real hostname behind a proxy; an
 *   entry without a port matches any port.
 */
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];
const LOOPBACK_BINDS = new Set(['127.0.0.1', '::1', 'localhost']);
const ANY_BINDS = new Set(['0.0.0.0', '::', '']);

export class HostCheck {
  private readonly exact = new Set<string>();
  private readonly anyPort = new Set<string>();
  private active = false;

  constructor(private readonly allowedHosts: readonly string[]) {
    for (const entry of allowedHosts) {
      const e = entry.trim().toLowerCase();
      if (e === '') continue;
      this.active = true;
      if (/:\d+$/.test(e) && !e.endsWith(']')) this.exact.add(e);
      else this.anyPort.add(e);
    }
  }

  /** Called once listening: the bound address (as given to listen) and port. */
  bound(host: string, port: number): void {
    const h = host.toLowerCase();
    if (LOOPBACK_BINDS.has(h)) {
      for (const name of LOOPBACK_NAMES) this.exact.add(`${name}:${port}`);
      this.active = true;
    } else if (!ANY_BINDS.has(h)) {
      this.exact.add(`${h.includes(':') && !h.startsWith('[') ? `[${h}]` : h}:${port}`);
      this.active = true;
    }
  }

  /** Whether `host` (a Host header: name[:port]) is one of ours. */
  allows(host: string | undefined): boolean {
    if (!this.active) return true;
    if (host === undefined) return false;
    const h = host.trim().toLowerCase();
    if (this.exact.has(h)) return true;
    const name = h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : (h.split(':')[0] ?? '');
    return this.anyPort.has(name);
  }

  /** Whether an Origin header (scheme://host[:port]) names one of ours; absent is fine. */
  allowsOrigin(origin: string | undefined): boolean {
    if (!this.active || origin === undefined) return true;
    try {
      const url = new URL(origin);
      const port = url.port || (url.protocol === 'https:' ? '443' : '80');
      return (
        this.allows(`${url.hostname.includes(':') ? `[${url.hostname}]` : url.hostname}:${port}`) ||
        this.allows(url.host)
      );
    } catch {
      return false;
    }
  }

  /** What a refusal says is allowed. */
  describe(): string {
    return [...this.exact, ...this.anyPort].join(', ');
  }
}
