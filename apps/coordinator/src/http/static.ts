/**
 * Serving the dashboard's built files without a plugin. A request path is decoded once, must
 * not contain NUL, backslashes, dot-segments or dotfiles, and its resolved real path (symlinks
 * followed) must lie inside the real static root; anything else is "not found", so nothing
 * outside the folder can be named, let alone read.
 */
import fs from 'node:fs';
import path from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export interface StaticFile {
  path: string;
  size: number;
  contentType: string;
}

export class StaticFiles {
  private readonly root: string;

  constructor(dir: string) {
    this.root = fs.realpathSync(dir);
    if (!fs.statSync(this.root).isDirectory()) {
      throw new Error(`static dir ${dir} is not a directory`);
    }
  }

  /** The file a URL path names, or null (not found, or not allowed: the caller answers 404). */
  async resolve(urlPath: string): Promise<StaticFile | null> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(urlPath);
    } catch {
      return null;
    }
    if (decoded.includes('\0') || decoded.includes('\\')) return null;
    const segments = decoded.split('/').filter((s) => s.length > 0);
    if (segments.some((s) => s.startsWith('.'))) return null; // '..', '.', dotfiles
    const rel = segments.length === 0 ? 'index.html' : segments.join('/');
    const candidate = path.resolve(this.root, rel);
    if (!this.inside(candidate)) return null;
    try {
      let real = await fs.promises.realpath(candidate);
      let stat = await fs.promises.stat(real);
      if (stat.isDirectory()) {
        real = await fs.promises.realpath(path.join(real, 'index.html'));
        stat = await fs.promises.stat(real);
      }
      if (!this.inside(real) || !stat.isFile()) return null;
      const ext = path.extname(real).toLowerCase();
      return {
        path: real,
        size: stat.size,
        contentType: CONTENT_TYPES[ext] ?? 'application/octet-stream',
      };
    } catch {
      return null;
    }
  }

  private inside(p: string): boolean {
    return p === this.root || p.startsWith(this.root + path.sep);
  }
}
