// Flat config: typescript-eslint's recommended rules on every package; generated code and
// build outputs are ignored. Module boundaries come from each project's tags (its package.json
// "nx" block, test/project.json) and are enforced by @nx/enforce-module-boundaries.
import js from '@eslint/js';
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

// Which projects a project may import, by tag. A project must satisfy the constraint of each of
// its tags. Layers: runtime/protocol/param-server are the foundation and import no project;
// model sits on runtime; data on model; trainer on data; experiments on param-server; apps
// use any lib; the dashboard is a web page and imports only the experiment record's types.
// `type:lib` -> `type:lib` is the "libs never import apps" rule.
const depConstraints = [
  { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
  { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:lib', 'type:app'] },
  { sourceTag: 'scope:runtime', onlyDependOnLibsWithTags: [] },
  { sourceTag: 'scope:protocol', onlyDependOnLibsWithTags: [] },
  { sourceTag: 'scope:param-server', onlyDependOnLibsWithTags: [] },
  // The artifact store's tests start their Redis with param-server's test helper.
  { sourceTag: 'scope:artifacts', onlyDependOnLibsWithTags: ['scope:param-server'] },
  { sourceTag: 'scope:model', onlyDependOnLibsWithTags: ['scope:runtime'] },
  { sourceTag: 'scope:data', onlyDependOnLibsWithTags: ['scope:model', 'scope:runtime'] },
  {
    sourceTag: 'scope:trainer',
    onlyDependOnLibsWithTags: ['scope:data', 'scope:model', 'scope:runtime'],
  },
  {
    sourceTag: 'scope:experiments',
    onlyDependOnLibsWithTags: ['scope:param-server', 'scope:artifacts'],
  },
  // The sweep reads the experiment record's metric table; its tests run real trial specs
  // through the trainer's schema.
  {
    sourceTag: 'scope:sweep',
    onlyDependOnLibsWithTags: ['scope:experiments', 'scope:trainer'],
  },
  { sourceTag: 'scope:dashboard', onlyDependOnLibsWithTags: ['scope:experiments'] },
  { sourceTag: 'scope:coordinator', onlyDependOnLibsWithTags: ['*'] },
  { sourceTag: 'scope:worker', onlyDependOnLibsWithTags: ['*'] },
  { sourceTag: 'scope:cli', onlyDependOnLibsWithTags: ['*'] },
  { sourceTag: 'scope:e2e', onlyDependOnLibsWithTags: ['*'] },
];

// The rule forbids importing an application outright (whatever the tags say); `allow` names the
// app -> app imports the design has, each where it is allowed and nowhere else.
// checkDynamicDependenciesExceptions: the rule's "static import of a lazy-loaded library" check
// is about bundle splitting, which Node code has none of; the CLI imports some libs lazily so
// that each command loads only what it uses, and others eagerly, on purpose.
const boundaries = (allow = []) => ({
  '@nx/enforce-module-boundaries': [
    'error',
    { allow, depConstraints, checkDynamicDependenciesExceptions: ['@mmim/*'] },
  ],
});

export default tseslint.config(
  { ignores: ['node_modules/**', '**/dist/**', 'runs/**', '.nx/**', '**/*.py', 'test-output/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  { plugins: { '@nx': nx }, rules: boundaries() },
  // `mmim coordinator` / `mmim worker` run those apps in the CLI's process.
  { files: ['apps/cli/**'], rules: boundaries(['@mmim/coordinator', '@mmim/worker']) },
  // The coordinator serves the dashboard's built files.
  { files: ['apps/coordinator/**'], rules: boundaries(['@mmim/dashboard']) },
  // Cross-app tests drive the apps themselves; the workspace test reads the test targets' file
  // sets with the runner's own code.
  {
    files: ['test/**'],
    rules: boundaries([
      '@mmim/cli',
      '@mmim/coordinator',
      '@mmim/worker',
      '@mmim/dashboard',
      '../tools/nx/run-tests.mjs',
    ]),
  },
);
