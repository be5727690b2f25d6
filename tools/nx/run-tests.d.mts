// Types of run-tests.mjs's exports, for the TypeScript tests that check the targets' file sets.
export function filesOfSpec(spec: string, root?: string): string[];
export function filesOfSpecs(specs: readonly string[], root?: string): string[];
export function specsOfCommand(command: string): string[] | undefined;
