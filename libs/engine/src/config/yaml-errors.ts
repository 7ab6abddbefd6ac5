import { LineCounter, parseDocument, isMap, isSeq, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { VezaError } from '../log/errors';

/**
 * Parses YAML and validates it with a zod schema; every error names the file,
 * the key path and the line, so a typo in an environment file is one glance away.
 */
export function parseYamlWithSchema<S extends z.ZodType>(file: string, text: string, schema: S, hint: string): z.infer<S> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line;
    throw new VezaError(`${file}${line ? `:${line}` : ''}: YAML syntax error: ${e.message.split('\n')[0]}`, hint, 'BAD_CONFIG');
  }
  const parsed = schema.safeParse(doc.toJS());
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.flatMap(located).slice(0, 5).map(({ path, message }) => {
    const line = lineOf(doc, lineCounter, path);
    return `${file}${line ? `:${line}` : ''}: ${path.join('.') || '(root)'}: ${message}`;
  });
  throw new VezaError(lines.join('; '), hint, 'BAD_CONFIG');
}

/** A file whose `name:` must be its own file name (`infra/environments/<name>.yaml`, `infra/edges/<name>.yaml`). */
export function parseNamedYaml<S extends z.ZodType<{ name: string }>>(file: string, text: string, schema: S, hint: string): z.infer<S> {
  const parsed = parseYamlWithSchema(file, text, schema, hint);
  const expected = file.split('/').pop()!.replace(/\.yaml$/, '');
  if (parsed.name !== expected) throw new VezaError(`${file}: name "${parsed.name}" differs from the file name`, `set name: ${expected}`, 'BAD_CONFIG');
  return parsed;
}

/** `file:line` of a key path in a YAML text (the deepest node of it that exists), for errors found after loading, such as a secret's value. */
export function locateKey(file: string, text: string, path: (string | number)[]): string {
  const lineCounter = new LineCounter();
  const line = lineOf(parseDocument(text, { lineCounter }), lineCounter, path);
  return `${file}${line ? `:${line}` : ''}`;
}

/**
 * zod reports unknown keys once, on the object that holds them: split that
 * into one issue per key, pathed to the key itself, so the line is the key's.
 */
function located(i: z.core.$ZodIssue): { path: (string | number)[]; message: string }[] {
  const path = i.path as (string | number)[];
  if (i.code === 'unrecognized_keys') return i.keys.map((k) => ({ path: [...path, k], message: 'unknown key (check its spelling and where it is indented)' }));
  return [{ path, message: i.message }];
}

/** The line of the deepest node on `path` that exists (a missing key points at its parent). */
function lineOf(doc: Document, lc: LineCounter, path: (string | number)[]): number | undefined {
  let node: Node | null | undefined = doc.contents as Node | null;
  let best = node?.range ? lc.linePos(node.range[0]).line : undefined;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown })?.value === key);
      if (!pair) break;
      const k = pair.key as Node;
      if (k?.range) best = lc.linePos(k.range[0]).line;
      node = pair.value as Node | null;
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key] as Node | null;
      if (node?.range) best = lc.linePos(node.range[0]).line;
    } else break;
  }
  return best;
}
