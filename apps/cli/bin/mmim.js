#!/usr/bin/env node
// The `mmim` command. The compiled CLI (apps/cli/dist, built by `npm install`/`npm ci`) when it
// matches its sources; else the TypeScript sources through tsx's loader, so an edit never runs
// a stale build and needs no build step (bin/compiled-entry.js, scripts/build.mjs).
import { compiledEntry } from './compiled-entry.js';

const entry = compiledEntry();
if (entry !== null) {
  await import(entry);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
