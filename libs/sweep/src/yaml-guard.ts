/**
 * Limits checked before a sweep file reaches the YAML parser. The `yaml` package parses nested
 * flow collections recursively at a cost that grows faster than the depth: fuzzing found a
 * 90 KB file that takes 16 s of CPU to refuse (the coordinator's event loop, heartbeats
 * included, would stall that long) and a 15 KB one whose second parse aborts the process. A
 * sweep file is a few hundred bytes; these limits are far above any real one.
 */
export const MAX_SWEEP_FILE_BYTES = 256 * 1024;
export const MAX_YAML_NESTING = 64;

/** Deepest nesting of flow brackets and of indentation levels, outside quoted strings. */
export function yamlNestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote !== null) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '[' || c === '{') max = Math.max(max, ++depth);
    else if (c === ']' || c === '}') depth = Math.max(0, depth - 1);
  }
  // Block nesting: a new level per indentation step; 2 spaces per level at the least.
  for (const line of text.split('\n')) {
    const indent = line.length - line.trimStart().length;
    if (line.trim() !== '') max = Math.max(max, Math.floor(indent / 2));
  }
  return max;
}

/** A message naming the limit, or null when the text is within both. */
export function yamlLimitProblem(
  text: string,
  maxBytes = MAX_SWEEP_FILE_BYTES,
  maxDepth = MAX_YAML_NESTING,
): string | null {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) return `is ${bytes} bytes; the limit is ${maxBytes}`;
  const depth = yamlNestingDepth(text);
  if (depth > maxDepth) return `nests ${depth} levels deep; the limit is ${maxDepth}`;
  return null;
}
