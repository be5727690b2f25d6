/**
 * Nx's project graph as `nx graph --file` writes it (running it also leaves the graph in Nx's
 * cache, where the eslint boundaries rule reads it).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface GraphTarget {
  options?: { command?: string };
}

export interface GraphNode {
  type: 'app' | 'lib' | 'e2e';
  data: {
    root: string;
    projectType?: 'application' | 'library';
    tags?: string[];
    targets?: Record<string, GraphTarget>;
  };
}

export interface Graph {
  graph: {
    nodes: Record<string, GraphNode>;
    dependencies: Record<string, { target: string }[]>;
  };
}

export function projectGraph(): Graph {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nx-graph-'));
  try {
    const file = path.join(dir, 'graph.json');
    execFileSync('npx', ['nx', 'graph', `--file=${file}`], {
      env: { ...process.env, NX_DAEMON: 'false' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Graph;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
