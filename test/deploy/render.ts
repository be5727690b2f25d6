/**
 * Renders the kustomize overlays of deploy/k8s with the kubectl on this machine
 * (`kubectl kustomize`, kustomize built in), after writing fresh secrets with
 * deploy/make-secrets.sh into a copy of the tree (the real secret files are git-ignored).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { K8sObject } from './k8s-schema.js';

export const REPO = path.resolve(import.meta.dirname, '..', '..');
export const K8S_DIR = path.join(REPO, 'deploy', 'k8s');

/** The kubectl to render with: $MMIM_KUBECTL, else `kubectl` on PATH; throws how to get one. */
export function findKubectl(): string {
  const kubectl = process.env['MMIM_KUBECTL'] ?? 'kubectl';
  const probe = spawnSync(kubectl, ['version', '--client'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `cannot run '${kubectl}' (${probe.error?.message ?? probe.stderr.trim()}): the deploy tests ` +
        `render the kustomize overlays with \`kubectl kustomize\`; install Debian's ` +
        `kubernetes-client package or set MMIM_KUBECTL to a kubectl binary`,
    );
  }
  return kubectl;
}

/** The overlay folders: deploy/k8s/overlays/<name>/kustomization.yaml. */
export function overlayNames(): string[] {
  const dir = path.join(K8S_DIR, 'overlays');
  return fs
    .readdirSync(dir)
    .filter((name) => fs.existsSync(path.join(dir, name, 'kustomization.yaml')))
    .sort();
}

export interface Rendered {
  objects: K8sObject[];
  /** The secret files written for this render (name -> content). */
  secrets: Record<string, string>;
  /** kubectl's stderr (kustomize's deprecation warnings, if any). */
  stderr: string;
}

/** Copies deploy/k8s, writes secrets with make-secrets.sh, renders one overlay. */
export function renderOverlay(kubectl: string, overlay: string): Rendered {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-k8s-'));
  try {
    const tree = path.join(tmp, 'k8s');
    fs.cpSync(K8S_DIR, tree, { recursive: true });
    const secretsDir = path.join(tree, 'base', 'secrets');
    // The hosts are the base's Services, as docs/operations.md tells operators to run it.
    execFileSync(
      'sh',
      [
        path.join(REPO, 'deploy', 'make-secrets.sh'),
        secretsDir,
        'mmim-redis:6379',
        'mmim-exchange-redis:6379',
      ],
      { stdio: 'pipe' },
    );
    const secrets: Record<string, string> = {};
    for (const name of fs.readdirSync(secretsDir)) {
      if (name !== '.gitignore')
        secrets[name] = fs.readFileSync(path.join(secretsDir, name), 'utf8');
    }
    const out = spawnSync(kubectl, ['kustomize', path.join(tree, 'overlays', overlay)], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    if (out.status !== 0) {
      throw new Error(`kubectl kustomize overlays/${overlay} failed: ${out.stderr.trim()}`);
    }
    const objects = parseAllDocuments(out.stdout).map((doc) => {
      if (doc.errors.length > 0) throw new Error(`overlays/${overlay}: ${doc.errors[0]?.message}`);
      return doc.toJS() as K8sObject;
    });
    return { objects: objects.filter((o) => o !== null), secrets, stderr: out.stderr };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * kustomize v5 writes long Secret values as YAML block scalars, i.e. base64 with line breaks;
 * the API server's base64 decoder (Go's encoding/base64) skips them. Joined here so that the
 * schema's `format: byte` sees what the server decodes.
 */
export function normaliseSecretData(obj: K8sObject): K8sObject {
  if (obj.kind !== 'Secret' || typeof obj['data'] !== 'object' || obj['data'] === null) return obj;
  const data = Object.fromEntries(
    Object.entries(obj['data'] as Record<string, string>).map(([k, v]) => [
      k,
      v.replace(/\s+/g, ''),
    ]),
  );
  return { ...obj, data };
}
