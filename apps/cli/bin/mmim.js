#!/usr/bin/env node
// The `mmim` command. Sources are TypeScript run through tsx's loader (no build step to forget).
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
