/**
 * Module boundaries are lint errors (@nx/enforce-module-boundaries, eslint.config.js, from the
 * tags in each project's package.json): eslint, with the repository's config, lints a file with
 * one forbidden import placed in a project (the text only; nothing is written to the tree) and
 * must name the broken rule. The allowed imports next to them must pass, so the rule is seen to
 * run and to tell the two apart.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { projectGraph } from './workspace-graph.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RULE = '@nx/enforce-module-boundaries';

describe('module boundaries (eslint)', () => {
  let eslint: ESLint;

  before(() => {
    // The rule reads the project graph from Nx's cache (it skips itself, with a warning, when
    // there is none): computing it here puts it there.
    projectGraph();
    eslint = new ESLint({ cwd: root });
  });

  /** The boundary rule's messages for `code` as if it were the file `file`. */
  async function boundaryErrors(file: string, code: string): Promise<string[]> {
    const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
    assert.ok(result, `no lint result for ${file}`);
    return result.messages.filter((m) => m.ruleId === RULE).map((m) => m.message);
  }

  const cases: { what: string; file: string; code: string; error: RegExp }[] = [
    {
      what: 'a lib importing an app',
      file: 'libs/model/src/boundary-probe.ts',
      code: "export { ensureDashboard } from '@mmim/dashboard';\n",
      error: /Imports of apps are forbidden/,
    },
    {
      what: 'a cycle (runtime, which model imports, importing model)',
      file: 'libs/runtime/src/boundary-probe.ts',
      code: "export { MMIM } from '@mmim/model';\n",
      error: /Circular dependency between "@mmim\/runtime" and "@mmim\/model"/,
    },
    {
      what: 'a lib importing a lib its scope may not use (model -> protocol)',
      file: 'libs/model/src/boundary-probe.ts',
      code: "export { PROTO_DIR } from '@mmim/protocol';\n",
      error: /tagged with "scope:model" can only depend on libs tagged with "scope:runtime"/,
    },
    {
      what: 'the dashboard (a web page) importing a Node lib',
      file: 'apps/dashboard/src/boundary-probe.ts',
      code: "export { ParamStore } from '@mmim/param-server';\n",
      error:
        /tagged with "scope:dashboard" can only depend on libs tagged with "scope:experiments"/,
    },
    {
      what: 'the worker importing the coordinator (they talk through the protocol)',
      file: 'apps/worker/src/boundary-probe.ts',
      code: "export { Coordinator } from '@mmim/coordinator';\n",
      error: /Imports of apps are forbidden/,
    },
    {
      what: 'a relative import into another project',
      file: 'apps/cli/src/boundary-probe.ts',
      code: "export { createLogger } from '../../../libs/runtime/src/index.js';\n",
      error: /Projects cannot be imported by a relative or absolute path/,
    },
  ];

  for (const c of cases) {
    it(`fails lint on ${c.what}`, async () => {
      const errors = await boundaryErrors(c.file, c.code);
      assert.ok(
        errors.some((e) => c.error.test(e)),
        `${c.file}: expected ${c.error}, got ${JSON.stringify(errors)}`,
      );
    });
  }

  it('passes the imports the design allows', async () => {
    const allowed: [string, string][] = [
      ['apps/cli/src/boundary-probe.ts', "export { runCoordinator } from '@mmim/coordinator';\n"],
      [
        'apps/coordinator/src/boundary-probe.ts',
        "export { ensureDashboard } from '@mmim/dashboard';\n",
      ],
      ['libs/model/src/boundary-probe.ts', "export { createLogger } from '@mmim/runtime';\n"],
      ['test/boundary-probe.ts', "export { LocalCluster } from '@mmim/cli';\n"],
    ];
    for (const [file, code] of allowed) {
      assert.deepEqual(await boundaryErrors(file, code), [], file);
    }
  });
});
