/**
 * Validation of Kubernetes objects against the API's schemas, from the pinned npm package
 * `kubernetes-models` (generated from the Kubernetes OpenAPI spec), in two passes:
 *
 * 1. its JSON-schema validators (ajv, compiled): types, formats, enums and required fields;
 * 2. its TypeScript declarations, by type-checking each object as an object literal of its
 *    kind's interface: this catches unknown (e.g. misspelled) fields at any depth, which the
 *    OpenAPI schemas allow (they set no additionalProperties: false; the API server prunes or
 *    rejects them at apply time, too late for us). The same idea as kubeconform's -strict.
 */
import path from 'node:path';
import ts from 'typescript';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

const REPO = path.resolve(import.meta.dirname, '..', '..');

/** 'apps/v1' + 'Deployment' -> 'apps/v1/Deployment'; 'v1' + 'Service' -> 'v1/Service'. */
export function modelModule(apiVersion: string, kind: string): string {
  if (!/^([a-z0-9.-]+\/)?v[0-9]+((alpha|beta)[0-9]+)?$/.test(apiVersion)) {
    throw new Error(`malformed apiVersion '${apiVersion}'`);
  }
  if (!/^[A-Z][A-Za-z0-9]*$/.test(kind)) throw new Error(`malformed kind '${kind}'`);
  return `kubernetes-models/${apiVersion}/${kind}`;
}

/** `Kind/name` for messages. */
export function describe(obj: K8sObject): string {
  return `${obj.kind}/${obj.metadata?.name ?? '<no name>'}`;
}

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: unknown) => Validatable;

const parsedLibraries = new Map<string, ts.SourceFile>();

/** Pass 1: the JSON-schema validation of kubernetes-models. Returns the problems found. */
export async function schemaErrors(obj: K8sObject): Promise<string[]> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(modelModule(obj.apiVersion, obj.kind))) as Record<string, unknown>;
  } catch (err) {
    return [`${describe(obj)}: no schema for ${obj.apiVersion} ${obj.kind} (${String(err)})`];
  }
  const Model = mod[obj.kind] as ModelClass | undefined;
  if (typeof Model !== 'function')
    return [`${describe(obj)}: kubernetes-models has no ${obj.kind}`];
  try {
    new Model(obj).validate();
    return [];
  } catch (err) {
    return [`${describe(obj)}: ${err instanceof Error ? err.message : String(err)}`];
  }
}

/**
 * Pass 2: type-checks every object against its kind's interface (`I<Kind>`) in one in-memory
 * program. Returns one message per TypeScript diagnostic, naming the object it falls in.
 */
export function strictFieldErrors(objects: readonly K8sObject[]): string[] {
  const virtualFile = path.join(REPO, 'test', 'deploy', '__k8s_objects__.ts');
  const lines: string[] = [];
  const spans: { from: number; to: number; obj: K8sObject }[] = [];
  objects.forEach((obj, i) => {
    lines.push(
      `import type { I${obj.kind} as T${i} } from '${modelModule(obj.apiVersion, obj.kind)}';`,
    );
  });
  objects.forEach((obj, i) => {
    const literal = `export const o${i}: T${i} = ${JSON.stringify(obj, null, 2)};`.split('\n');
    spans.push({ from: lines.length, to: lines.length + literal.length, obj });
    lines.push(...literal);
  });
  const source = lines.join('\n');
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    lib: ['lib.es2022.d.ts'],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (file, languageVersion, onError, shouldCreate) => {
    if (path.resolve(file) === virtualFile)
      return ts.createSourceFile(file, source, languageVersion, true);
    // Declaration files do not change during a test run: parse each once.
    const cached = parsedLibraries.get(file);
    if (cached) return cached;
    const parsed = getSourceFile(file, languageVersion, onError, shouldCreate);
    if (parsed) parsedLibraries.set(file, parsed);
    return parsed;
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (file) => path.resolve(file) === virtualFile || fileExists(file);
  const readFile = host.readFile.bind(host);
  host.readFile = (file) => (path.resolve(file) === virtualFile ? source : readFile(file));
  const program = ts.createProgram([virtualFile], options, host);
  const diagnostics = [
    ...program.getSyntacticDiagnostics(),
    ...program.getSemanticDiagnostics(),
  ].filter((d) => d.file === undefined || path.resolve(d.file.fileName) === virtualFile);
  return diagnostics.map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (d.file === undefined || d.start === undefined) return message;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    const span = spans.find((s) => line >= s.from && line < s.to);
    const where = span ? describe(span.obj) : `line ${line + 1}`;
    const text = source.split('\n')[line]?.trim() ?? '';
    return `${where}: ${message} (at ${text})`;
  });
}

/** Both passes over all objects. */
export async function validateObjects(objects: readonly K8sObject[]): Promise<string[]> {
  const errors: string[] = [];
  for (const obj of objects) errors.push(...(await schemaErrors(obj)));
  errors.push(...strictFieldErrors(objects));
  return errors;
}
