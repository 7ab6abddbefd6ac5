import type { z } from 'zod';

/**
 * Command-line words into the raw options object an executor's zod
 * declaration parses: `--dry-run` → dryRun, `--no-x` → x: false,
 * `--x=v` or `--x v`, the declared type deciding whether a flag takes a
 * value and whether it is a number. Positional words fill `positional` in
 * order. Checking is the declaration's job, not this one's.
 */
export interface ArgvSpec {
  positional?: string[];
  /** Another spelling of an option: `to` → sha for `rollback --to=<sha>`. */
  aliases?: Record<string, string>;
}

export class UsageError extends Error {}

export function parseArgv(words: string[], schema: z.ZodObject, spec: ArgvSpec = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const positional = [...(spec.positional ?? [])];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (!word.startsWith('--')) {
      const name = positional.shift();
      if (!name) throw new UsageError(`unexpected argument ${JSON.stringify(word)}`);
      out[name] = word;
      continue;
    }
    const eq = word.indexOf('=');
    const flag = eq === -1 ? word.slice(2) : word.slice(2, eq);
    const negated = eq === -1 && flag.startsWith('no-');
    const key = optionKey(negated ? flag.slice(3) : flag, spec);
    const type = typeOf(schema, key);
    let value: unknown;
    if (negated) value = false;
    else if (eq !== -1) value = word.slice(eq + 1);
    else if (type === 'boolean') value = true;
    else if (i + 1 < words.length && !words[i + 1]!.startsWith('--')) value = words[++i];
    else throw new UsageError(`--${flag} needs a value (--${flag}=<value>)`);
    out[key] = coerce(value, type);
  }
  return out;
}

function optionKey(flag: string, spec: ArgvSpec): string {
  const camel = flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  return spec.aliases?.[camel] ?? camel;
}

function coerce(value: unknown, type: string | undefined): unknown {
  if (typeof value !== 'string') return value;
  if (type === 'boolean' && (value === 'true' || value === 'false')) return value === 'true';
  if (type === 'number' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return value;
}

/** The zod type name of an option (boolean, number, string, enum), through its default and optional wrappers. */
export function typeOf(schema: z.ZodObject, key: string): string | undefined {
  let t = (schema.shape as Record<string, z.ZodType | undefined>)[key];
  while (t && (t.def.type === 'default' || t.def.type === 'optional')) t = (t.def as unknown as { innerType: z.ZodType }).innerType;
  return t?.def.type;
}
