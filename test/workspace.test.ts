/**
 * The workspace's shape: Nx sees every project, the project graph has no cycles, libs never
 * depend on apps, and each lib has one public entry that other projects import.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

interface Graph {
  graph: {
    nodes: Record<string, { data: { root: string; tags?: string[] } }>;
    dependencies: Record<string, { target: string }[]>;
  };
}

function projectGraph(): Graph {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nx-graph-')), 'graph.json');
  execFileSync('npx', ['nx', 'graph', `--file=${file}`], {
    env: { ...process.env, NX_DAEMON: 'false' },
    stdio: 'ignore',
  });
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Graph;
}

describe('workspace', () => {
  const g = projectGraph().graph;

  it('has the libs and apps as Nx projects', () => {
    for (const name of ['@mmim/runtime', '@mmim/model', '@mmim/cli'])
      assert.ok(g.nodes[name], `${name} missing from the graph`);
  });

  it('has no dependency cycles and no lib -> app edges', () => {
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (n: string, trail: string[]): void => {
      if (state.get(n) === 'done') return;
      assert.notEqual(state.get(n), 'visiting', `cycle: ${[...trail, n].join(' -> ')}`);
      state.set(n, 'visiting');
      for (const d of g.dependencies[n] ?? []) {
        if (!g.nodes[d.target]) continue; // npm packages
        if (g.nodes[n]?.data.root.startsWith('libs/')) {
          assert.ok(
            !g.nodes[d.target]?.data.root.startsWith('apps/'),
            `lib ${n} depends on app ${d.target}`,
          );
        }
        visit(d.target, [...trail, n]);
      }
      state.set(n, 'done');
    };
    for (const n of Object.keys(g.nodes)) visit(n, []);
  });

  it('gives every lib exactly one public entry, src/index.ts', () => {
    for (const node of Object.values(g.nodes).filter((x) => x.data.root.startsWith('libs/'))) {
      const pkg = JSON.parse(
        fs.readFileSync(path.join(node.data.root, 'package.json'), 'utf8'),
      ) as { exports: Record<string, string> };
      assert.deepEqual(
        Object.keys(pkg.exports),
        ['.'],
        `${node.data.root} exports more than one entry`,
      );
      assert.equal(pkg.exports['.'], './src/index.ts');
      assert.ok(fs.existsSync(path.join(node.data.root, 'src/index.ts')));
    }
  });

  it('imports other projects only through their package name, never their internals', () => {
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts')) {
          const src = fs.readFileSync(p, 'utf8');
          if (/from '(\.\.\/)+(libs|apps)\/|from '@mmim\/[a-z-]+\//.test(src)) offenders.push(p);
        }
      }
    };
    ['libs', 'apps', 'bench', 'test'].filter((d) => fs.existsSync(d)).forEach(walk);
    assert.deepEqual(offenders, []);
  });
});
