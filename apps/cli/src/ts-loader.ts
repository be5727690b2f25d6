/**
 * The compiled CLI (apps/cli/dist, apps/cli/scripts/build.mjs) holds main.ts and the API
 * commands; the commands that train or start processes stay TypeScript, imported from src/
 * when they run. Before such an import the compiled CLI registers tsx's loader, once; run from
 * the sources (tsx already registered by bin/mmim.js) this does nothing.
 */

/** Defined as `true` by the compiled build (esbuild `define`); undeclared in the sources. */
declare const __MMIM_CLI_COMPILED__: boolean | undefined;

let registered: Promise<void> | null = null;

/** Resolves once TypeScript modules can be imported. */
function typescriptReady(): Promise<void> {
  if (typeof __MMIM_CLI_COMPILED__ === 'undefined') return Promise.resolve();
  registered ??= import('tsx/esm/api').then(({ register }) => {
    register();
  });
  return registered;
}

/** Wraps a command module's import so that it may be TypeScript (see above). */
export function typescriptModule<M>(load: () => Promise<M>): () => Promise<M> {
  return async () => {
    await typescriptReady();
    return load();
  };
}
