/**
 * Every flag `mmim` has is documented, and every flag the docs give a command exists (issue 16
 * item 4). The flags come from each command's real `--help` (child processes); the docs are
 * README.md, docs/*.md and deploy/README.md. A documented use is an `mmim <command> ... --flag`
 * inside a code span or a code block line.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const MMIM = path.resolve('apps/cli/bin/mmim.js');
const DOCS = [
  'README.md',
  'deploy/README.md',
  ...fs
    .readdirSync('docs')
    .filter((f) => f.endsWith('.md'))
    .map((f) => path.join('docs', f)),
];

function help(args: string[]): string {
  const r = spawnSync(process.execPath, [MMIM, ...args, '--help'], {
    encoding: 'utf8',
    env: { ...process.env, MMIM_LOG_LEVEL: 'warn' },
  });
  assert.equal(r.status, 0, `mmim ${args.join(' ')} --help: ${r.stderr}`);
  return r.stdout;
}

function commandsOf(text: string): string[] {
  const section = text.split(/^Commands:$/m)[1] ?? '';
  return section
    .split('\n')
    .map((l) => /^ {2}(\S+)/.exec(l)?.[1])
    .filter((c): c is string => c !== undefined && c !== 'help');
}

function flagsOf(text: string): Set<string> {
  return new Set([...text.matchAll(/--[a-z][a-z0-9-]*/g)].map((m) => m[0]));
}

/** Every command path (`train`, `sweep ls`, ...) with the flags its --help names. */
function cli(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const top = help([]);
  out.set('', flagsOf(top.split(/^Commands:$/m)[0] ?? ''));
  for (const c of commandsOf(top)) {
    const text = help([c]);
    const subs = commandsOf(text);
    out.set(c, flagsOf(subs.length > 0 ? (text.split(/^Commands:$/m)[0] ?? '') : text));
    for (const s of subs) out.set(`${c} ${s}`, flagsOf(help([c, s])));
  }
  return out;
}

/** `mmim ...` uses in code spans and code block lines, with where they are. */
function documentedUses(): { file: string; line: number; text: string }[] {
  const out: { file: string; line: number; text: string }[] = [];
  for (const file of DOCS) {
    let inBlock = false;
    fs.readFileSync(file, 'utf8')
      .split('\n')
      .forEach((l, i) => {
        if (/^\s*```/.test(l)) {
          inBlock = !inBlock;
          return;
        }
        const spans = inBlock ? [l] : [...l.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
        for (const s of spans) {
          // `mmim` as the command itself: at the start, after a prompt, a pipe, `&&`, `;` or
          // environment assignments (not `kubectl -n mmim ...`).
          const m = /(?:^|\$\s+|&&\s+|\|\s+|;\s+)(?:[A-Z_]+=\S+\s+)*(mmim (?=[a-z-]).*)$/.exec(
            s.trim(),
          );
          if (m?.[1] !== undefined) out.push({ file, line: i + 1, text: m[1] });
        }
      });
  }
  return out;
}

describe('mmim flags and the docs', () => {
  const commands = cli();
  const docs = DOCS.map((f) => fs.readFileSync(f, 'utf8')).join('\n');

  it('documents every flag of every command', () => {
    const missing: string[] = [];
    for (const [command, flags] of commands)
      for (const flag of flags)
        if (flag !== '--help' && !docs.includes(flag))
          missing.push(`mmim ${command} ${flag}`.replace('  ', ' '));
    assert.deepEqual(missing, []);
  });

  it('gives each command only flags it has', () => {
    const wrong: string[] = [];
    const uses = documentedUses();
    assert.ok(uses.length > 20, `found ${uses.length} documented mmim commands`);
    for (const use of uses) {
      const words = use.text.replace(/^mmim\s+/, '').split(/\s+/);
      const first = words[0] ?? '';
      const two = `${first} ${words[1] ?? ''}`;
      const command = commands.has(two) ? two : commands.has(first) ? first : null;
      if (command === null) {
        if (/^[a-z]/.test(first))
          wrong.push(`${use.file}:${use.line}: no command 'mmim ${first}' (${use.text})`);
        continue;
      }
      const known = new Set([...(commands.get(command) ?? []), ...(commands.get('') ?? [])]);
      // Flags until the next shell operator: a pipe or `&&` starts another command.
      const own = use.text.split(/\s(?:\||&&|;)\s/)[0] ?? '';
      for (const flag of flagsOf(own))
        if (!known.has(flag)) wrong.push(`${use.file}:${use.line}: mmim ${command} has no ${flag}`);
    }
    assert.deepEqual(wrong, []);
  });
});
