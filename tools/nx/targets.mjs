// The workspace's Nx targets, defined once (a local Nx plugin, registered in nx.json).
//
// Every app and lib (apps/*/package.json, libs/*/package.json) gets:
//   typecheck  tsc -b on the project (its references first, through ^typecheck)
//   lint       eslint on the project (module boundaries included: eslint.config.js)
//   test       its src/**/*.test.ts, through tools/nx/run-tests.mjs
// The cross-project test project (test/project.json, named `e2e`) gets typecheck and lint of
// test/ and bench/ (one tsconfig: bench imports test helpers) and one target per suite in
// E2E_SUITES: the slow ones (cluster, browser, chaos...) are their own targets, so `nx` can
// cache, order and rerun them separately; each runs alone (see testTarget).
//
// Cache settings live here with the commands, so a target's command and what it reads sit side
// by side; the input sets they name (default, production, testEnvironment, ...) are nx.json's
// namedInputs. Project-specific facts (tags, projectType, a dashboard `build`) stay in each
// project's package.json "nx" block or project.json.

/** The suites of the `e2e` project: target name -> test file specs and extra inputs. */
export const E2E_SUITES = {
  // test/*.test.ts: workspace shape, CLI, learning, test-deps; reads the whole workspace.
  e2e: {
    specs: ['test/*'],
    inputs: ['^default', 'workspaceTooling', 'e2eWorkspaceFiles'],
  },
  'e2e-cluster': { specs: ['test/cluster'], inputs: ['e2eWorkspaceFiles'] },
  'e2e-browser': {
    specs: ['test/dashboard'],
    inputs: ['e2eWorkspaceFiles', { runtime: 'chromium --version 2>/dev/null || echo none' }],
  },
  'e2e-chaos': { specs: ['test/chaos'], inputs: ['e2eWorkspaceFiles'] },
  'e2e-fuzz': { specs: ['test/fuzz'], inputs: ['e2eWorkspaceFiles'] },
  'e2e-deploy': {
    specs: ['test/deploy'],
    inputs: [
      'e2eWorkspaceFiles',
      '{workspaceRoot}/deploy/**/*',
      { runtime: 'kubectl version --client 2>/dev/null || echo none' },
    ],
  },
  'e2e-gpu': {
    specs: ['test/gpu-path', 'test/gpu-check'],
    inputs: ['e2eWorkspaceFiles', '{workspaceRoot}/bench/**/*'],
  },
};

// Quoted: the command runs in a shell, which would expand `test/*` itself.
const runTests = (specs) => `node tools/nx/run-tests.mjs ${specs.map((s) => `'${s}'`).join(' ')}`;

const typecheck = (root) => ({
  command: `tsc -b ${root}`,
  cache: true,
  // tsc -b reads the referenced projects' declarations: type-check those first (and cache them).
  dependsOn: ['^typecheck'],
  inputs: ['default', '^production'],
  outputs: ['{workspaceRoot}/dist/{projectRoot}'],
});

const lint = (paths, extraInputs = []) => ({
  command: `eslint ${paths.join(' ')} --max-warnings 0`,
  cache: true,
  // ^production: the boundaries rule reads other projects' tags and imports (project graph).
  inputs: ['default', '^production', 'lintConfig', ...extraInputs],
});

// `parallelism: false`: Nx runs the task alone, nothing beside it (npm test runs the rest two at
// a time on two cores). For the suites that start clusters, browsers and training processes of
// their own, which would otherwise share the two cores with another suite and its processes.
const testTarget = (specs, extraInputs, { alone = false } = {}) => ({
  command: runTests(specs),
  cache: true,
  inputs: ['default', '^production', 'testEnvironment', ...extraInputs],
  ...(alone ? { parallelism: false } : {}),
});

/** Apps and libs whose unit tests start real clusters (coordinator e2e) or train in threads. */
const RUN_TESTS_ALONE = new Set(['apps/coordinator', 'apps/worker']);

function libOrAppTargets(root) {
  return {
    typecheck: typecheck(root),
    lint: lint([root]),
    test: testTarget([`${root}/src`], [], { alone: RUN_TESTS_ALONE.has(root) }),
  };
}

function e2eTargets(root) {
  const targets = {
    typecheck: typecheck(root),
    // Also lints what no project owns: the benches, these tools, the deploy health checks and
    // the eslint config itself (all linted by the old root `eslint .`).
    lint: lint(
      [root, 'bench', 'tools', 'deploy/healthcheck', 'eslint.config.js'],
      ['workspaceTooling', '{workspaceRoot}/bench/**/*', '{workspaceRoot}/deploy/healthcheck/**/*'],
    ),
  };
  for (const [name, suite] of Object.entries(E2E_SUITES)) {
    targets[name] = testTarget(suite.specs, suite.inputs, { alone: true });
  }
  return targets;
}

export const name = 'mmim-targets';

export const createNodes = [
  '{apps/*/package.json,libs/*/package.json,test/project.json}',
  (configFiles) =>
    configFiles.map((file) => {
      const root = file.slice(0, file.lastIndexOf('/'));
      const targets = root === 'test' ? e2eTargets(root) : libOrAppTargets(root);
      return [file, { projects: { [root]: { root, targets } } }];
    }),
];
