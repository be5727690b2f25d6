/**
 * Static checks of a Dockerfile, parsed with dockerfile-ast: what a build would trip over
 * (a COPY source missing from the build context or excluded by its .dockerignore, a stage
 * used before it is defined) and what the images promise (a non-root final user, a health
 * check, no dev dependencies in the final stage). Returns the problems as messages.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Copy, DockerfileParser, type Instruction } from 'dockerfile-ast';

export interface Stage {
  name: string | null;
  image: string;
  line: number;
  instructions: Instruction[];
}

/** Splits a parsed Dockerfile into its stages (instructions before the first FROM are dropped). */
export function stages(text: string): Stage[] {
  const out: Stage[] = [];
  for (const ins of DockerfileParser.parse(text).getInstructions()) {
    const line = ins.getRange().start.line + 1;
    if (ins.getKeyword() === 'FROM') {
      const args = ins.getArguments().map((a) => a.getValue());
      const asAt = args.findIndex((a) => a.toUpperCase() === 'AS');
      out.push({
        name: asAt >= 0 ? (args[asAt + 1] ?? null) : null,
        image: args[0] ?? '',
        line,
        instructions: [],
      });
    } else {
      out.at(-1)?.instructions.push(ins);
    }
  }
  return out;
}

/** The arguments of an instruction without its --flags. */
function operands(ins: Instruction): string[] {
  return ins
    .getArguments()
    .map((a) => a.getValue())
    .filter((a) => !a.startsWith('--'));
}

/** The value of COPY's --from flag (dockerfile-ast keeps flags apart from the arguments). */
export function copyFrom(ins: Instruction): string | undefined {
  if (!(ins instanceof Copy)) return undefined;
  return ins.getFromFlag()?.getValue() ?? undefined;
}

/**
 * The .dockerignore patterns we use, as regular expressions over context-relative paths.
 * Only the forms `name`, `dir/sub`, `**\/name` and `**\/*.ext` are supported; anything else
 * is reported, so that a pattern this matcher does not understand cannot pass silently.
 */
export function ignoreMatchers(text: string): { matchers: RegExp[]; unsupported: string[] } {
  const matchers: RegExp[] = [];
  const unsupported: string[] = [];
  for (const raw of text.split('\n')) {
    const p = raw.trim();
    if (p === '' || p.startsWith('#')) continue;
    const escape = (s: string): string => s.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    if (/^\*\*\/\*\.[\w.]+$/.test(p)) {
      matchers.push(new RegExp(`(^|/)[^/]*${escape(p.slice(4).slice(1))}$`));
    } else if (/^\*\*\/[\w.-]+$/.test(p)) {
      matchers.push(new RegExp(`(^|/)${escape(p.slice(3))}(/|$)`));
    } else if (/^[\w.-]+(\/[\w.-]+)*$/.test(p)) {
      matchers.push(new RegExp(`^${escape(p)}(/|$)`));
    } else {
      unsupported.push(p);
    }
  }
  return { matchers, unsupported };
}

export interface CheckOptions {
  /** The build context (the repository root). */
  context: string;
  /** The Dockerfile's .dockerignore text, if it has one. */
  dockerignore?: string;
}

/** Every problem found in `text` (a Dockerfile), as `file:line: message`. */
export function checkDockerfile(file: string, text: string, opts: CheckOptions): string[] {
  const problems: string[] = [];
  const at = (line: number, message: string): void => {
    problems.push(`${file}:${line}: ${message}`);
  };
  const all = stages(text);
  if (all.length === 0) return [`${file}: no FROM`];
  const { matchers, unsupported } = ignoreMatchers(opts.dockerignore ?? '');
  for (const p of unsupported) problems.push(`${file}.dockerignore: unsupported pattern '${p}'`);

  const seen = new Set<string>();
  for (const stage of all) {
    // A FROM naming an earlier stage is fine; a later one is an image pull of that name.
    if (stage.name !== null) {
      if (seen.has(stage.name)) at(stage.line, `stage '${stage.name}' defined twice`);
    }
    for (const ins of stage.instructions) {
      const line = ins.getRange().start.line + 1;
      const keyword = ins.getKeyword();
      if (keyword === 'ADD') at(line, 'ADD: use COPY (no remote URLs or archives in these images)');
      if (keyword !== 'COPY') continue;
      const from = copyFrom(ins);
      const args = operands(ins);
      const sources = args.slice(0, -1);
      if (sources.length === 0) at(line, 'COPY without a source');
      if (from !== undefined) {
        if (!seen.has(from))
          at(line, `COPY --from=${from}: no stage '${from}' defined before this line`);
        continue;
      }
      for (const src of sources) {
        const rel = path.posix.normalize(src.replace(/^\.\//, ''));
        if (rel.startsWith('..') || path.isAbsolute(rel)) {
          at(line, `COPY ${src}: outside the build context`);
          continue;
        }
        if (/[*?[]/.test(rel)) {
          at(line, `COPY ${src}: wildcards are not checked; name the files`);
          continue;
        }
        if (!fs.existsSync(path.join(opts.context, rel)))
          at(line, `COPY ${src}: not in the build context`);
        if (matchers.some((m) => m.test(rel)))
          at(line, `COPY ${src}: excluded by the .dockerignore`);
      }
    }
    if (stage.name !== null) seen.add(stage.name);
  }

  const final = all.at(-1)!;
  const finalLine = final.line;
  const users = final.instructions.filter((i) => i.getKeyword() === 'USER');
  const user = users.at(-1)?.getArgumentsContent()?.trim();
  if (user === undefined) at(finalLine, 'final stage has no USER (it would run as root)');
  else if (/^(root|0)(:|$)/.test(user)) at(finalLine, `final stage runs as '${user}'`);
  const health = final.instructions.filter((i) => i.getKeyword() === 'HEALTHCHECK').at(-1);
  if (!health) at(finalLine, 'final stage has no HEALTHCHECK');
  else if (/^\s*NONE\s*$/i.test(health.getArgumentsContent() ?? ''))
    at(finalLine, 'HEALTHCHECK NONE');
  for (const ins of final.instructions.filter((i) => i.getKeyword() === 'RUN')) {
    const cmd = ins.getArgumentsContent() ?? '';
    const line = ins.getRange().start.line + 1;
    for (const m of cmd.matchAll(/\b(npm|yarn|pnpm)\s+(ci|install|i|add)\b[^&;|]*/g)) {
      if (!/--omit[= ]dev|--production\b/.test(m[0])) {
        at(line, `final stage installs packages without --omit=dev: '${m[0].trim()}'`);
      }
    }
  }
  if (
    !final.instructions.some((i) => i.getKeyword() === 'ENTRYPOINT' || i.getKeyword() === 'CMD')
  ) {
    at(finalLine, 'final stage has no ENTRYPOINT or CMD');
  }
  return problems;
}
