/**
 * The workspace's shape, as far as lint cannot check it: every app and lib is an Nx project of
 * its type, the targets are defined once (tools/nx/targets.mjs), every *.test.ts runs in exactly
 * one target of `npm test`, each lib has one public entry, and the benches (no project, so out
 * of the boundaries rule's sight) import projects only by package name.
 * Cycles, lib -> app imports, the tag rules and relative imports across projects are lint's
 * (@nx/enforce-module-boundaries; test/boundaries.test.ts shows each one failing).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { filesOfSpecs, specsOfCommand } from '../tools/nx/run-tests.mjs';
import { projectGraph } from './workspace-graph.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rel = (p: string): string => path.relative(root, p).split(path.sep).join('/');

/** Every *.test.ts under these folders (what `npm test` ran before Nx: libs, apps, test). */
function allTestFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules') walk(p);
      } else if (e.name.endsWith('.test.ts')) out.push(rel(p));
    }
  };
  ['libs', 'apps', 'test'].forEach((d) => walk(path.join(root, d)));
  return out.sort();
}

/** The targets `npm test` runs: every `-t` list of its `nx run-many` commands. */
function npmTestTargets(): Set<string> {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const script = pkg.scripts['test'] ?? '';
  const targets = new Set<string>();
  for (const m of script.matchAll(/nx run-many (?:--target|-t)[ =]((?:[a-z0-9-]+[ ,]?)+)/g)) {
    for (const t of (m[1] ?? '').split(/[ ,]/).filter(Boolean)) targets.add(t);
  }
  return targets;
}

describe('workspace', () => {
  const g = projectGraph().graph;
  const nodes = Object.entries(g.nodes);
  const byRoot = new Map(nodes.map(([name, n]) => [n.data.root, { name, ...n }]));

  it('makes every app an application, every lib a library, and test/ the e2e project', () => {
    for (const dir of ['apps', 'libs']) {
      for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
        if (!e.isDirectory() || !fs.existsSync(path.join(root, dir, e.name, 'package.json')))
          continue;
        const p = byRoot.get(`${dir}/${e.name}`);
        assert.ok(p, `${dir}/${e.name} is not an Nx project`);
        const [type, tag] = dir === 'apps' ? ['application', 'type:app'] : ['library', 'type:lib'];
        assert.equal(p.data.projectType, type, `${p.name}: projectType`);
        assert.ok(p.data.tags?.includes(tag), `${p.name}: tags ${p.data.tags?.join(', ')}`);
        assert.ok(
          p.data.tags?.some((t) => t.startsWith('scope:')),
          `${p.name} has no scope: tag (eslint.config.js's depConstraints need one)`,
        );
      }
    }
    const e2e = byRoot.get('test');
    assert.equal(e2e?.name, 'e2e');
    assert.equal(e2e.type, 'e2e');
  });

  it('defines typecheck, lint and test once: no project overrides them', () => {
    for (const [name, n] of nodes) {
      for (const file of ['package.json', 'project.json']) {
        const f = path.join(root, n.data.root, file);
        if (!fs.existsSync(f)) continue;
        const json = JSON.parse(fs.readFileSync(f, 'utf8')) as {
          nx?: { targets?: Record<string, unknown> };
          targets?: Record<string, unknown>;
        };
        const own = Object.keys((file === 'package.json' ? json.nx?.targets : json.targets) ?? {});
        const copied = own.filter((t) => ['typecheck', 'lint', 'test'].includes(t));
        assert.deepEqual(copied, [], `${name}: ${n.data.root}/${file} redefines ${copied}`);
      }
      for (const t of ['typecheck', 'lint']) assert.ok(n.data.targets?.[t], `${name}: no ${t}`);
    }
  });

  it('runs every *.test.ts in exactly one target of `npm test`', () => {
    const inNpmTest = npmTestTargets();
    const owners = new Map<string, string[]>();
    for (const [name, n] of nodes) {
      for (const [target, t] of Object.entries(n.data.targets ?? {})) {
        const specs = specsOfCommand(String(t.options?.command ?? ''));
        if (!specs) continue;
        assert.ok(inNpmTest.has(target), `${name}:${target} runs tests but npm test skips it`);
        for (const f of filesOfSpecs(specs, root)) {
          owners.set(f, [...(owners.get(f) ?? []), `${name}:${target}`]);
        }
      }
    }
    const wrong = allTestFiles()
      .map((f) => [f, owners.get(f) ?? []] as const)
      .filter(([, o]) => o.length !== 1)
      .map(([f, o]) => `${f}: ${o.length === 0 ? 'in no target' : o.join(' and ')}`);
    assert.deepEqual(wrong, []);
    assert.ok(owners.size > 100, `only ${owners.size} test files found`);
  });

  it("lints every source file in some project's lint target (as the old `eslint .` did)", () => {
    const linted: string[] = [];
    for (const [name, n] of nodes) {
      const m = /^eslint (.+?) --max-warnings 0$/.exec(
        String(n.data.targets?.['lint']?.options?.command),
      );
      assert.ok(m?.[1], `${name}: lint is not 'eslint PATHS --max-warnings 0'`);
      linted.push(...m[1].split(' '));
    }
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
      cwd: root,
      encoding: 'utf8',
    })
      .split('\n')
      .filter((f) => /\.[mc]?[jt]sx?$/.test(f) && !/(^|\/)(dist|node_modules)\//.test(f))
      .filter((f) => fs.existsSync(path.join(root, f)));
    const unlinted = files.filter((f) => !linted.some((p) => f === p || f.startsWith(`${p}/`)));
    assert.deepEqual(unlinted, []);
  });

  it('gives every lib exactly one public entry, src/index.ts (test helpers: ./testing)', () => {
    const libs = nodes.filter(([, n]) => n.data.root.startsWith('libs/'));
    assert.ok(libs.length >= 8);
    for (const [name, n] of libs) {
      const pkg = JSON.parse(
        fs.readFileSync(path.join(root, n.data.root, 'package.json'), 'utf8'),
      ) as { exports: Record<string, string> };
      const { '.': main, './testing': testing, ...others } = pkg.exports;
      assert.deepEqual(Object.keys(others), [], `${name} exports more than its entry`);
      assert.equal(main, './src/index.ts', `${name}: "."`);
      if (testing !== undefined) assert.equal(testing, './src/testing/index.ts', name);
      for (const f of [main, testing].filter((x): x is string => x !== undefined)) {
        assert.ok(fs.existsSync(path.join(root, n.data.root, f)), `${name}: ${f} missing`);
      }
    }
  });

  it('has the benches import projects by package name, never by path', () => {
    // bench/ belongs to no project, so the boundaries rule does not look at it.
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.[mc]?[tj]s$/.test(p)) {
          const src = fs.readFileSync(p, 'utf8');
          if (/from '(\.\.\/)+(libs|apps)\/|from '@mmim\/[a-z-]+\/(?!testing')/.test(src))
            offenders.push(rel(p));
        }
      }
    };
    walk(path.join(root, 'bench'));
    assert.deepEqual(offenders, []);
  });
});
