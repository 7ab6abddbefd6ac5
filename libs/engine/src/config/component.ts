import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { VezaError } from '../log/errors';
import { PATTERNS } from './names';

/**
 * A component's runtime declaration: `apps/<name>/component.json`.
 * It is the only place that says how a component builds, runs and is routed;
 * the edge, deploy and generators read it and hard-code no component names.
 */
const pathPrefix = z.string().regex(/^\/[A-Za-z0-9._~\/-]*$/, 'must be an absolute URL path');

export const componentSchema = z.strictObject({
  name: z.string().regex(PATTERNS.component, 'must match [a-z][a-z0-9-]*'),
  /** Registry package name; defaults to the component name. */
  package: z.string().regex(PATTERNS.component).optional(),
  build: z.strictObject({
    preset: z.enum(['node', 'vite', 'go', 'cargo']),
    /** node: output file name (no extension) → entry source, each bundled to one file. */
    entries: z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/), z.string()).optional(),
    /** go/cargo: binary names (go: ./cmd/<name> packages; cargo: [[bin]] names). */
    binaries: z.array(z.string().regex(/^[a-z][a-z0-9_-]*$/)).optional(),
    /** Files or folders copied into the artifact as they are. */
    assets: z.array(z.string()).default([]),
  }),
  run: z.strictObject({
    /** argv run from the unpacked artifact's root; PORT and HOST come from the environment. */
    command: z.array(z.string()).min(1),
    port: z.number().int().min(1).max(65535),
    health: pathPrefix,
    /** A JSON endpoint whose `release` field reports the running release sha. */
    status: pathPrefix.optional(),
    env: z.strictObject({
      required: z.array(z.string().regex(/^[A-Z][A-Z0-9_]*$/)).default([]),
      optional: z.array(z.string().regex(/^[A-Z][A-Z0-9_]*$/)).default([]),
    }).default({ required: [], optional: [] }),
    /**
     * Debian packages the slot needs from the OS to run `command` (`nodejs`
     * for a Node server); none for a static binary. The local driver
     * refuses a deploy when the machine lacks one.
     */
    needs: z.array(z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, 'must be a Debian package name, e.g. nodejs')).default([]),
  }),
  edge: z.strictObject({
    /** Pool suffix: `<env>_<backend>` in the rendered config, e.g. backend_api. */
    backend: z.string().regex(/^[a-z][a-z0-9_]*$/),
    balance: z.enum(['roundrobin', 'uri-hash']).default('roundrobin'),
    sticky: z.boolean().default(false),
    websocket: z.boolean().default(false),
    /** Path prefixes routed here (`/api/v1`). */
    prefixes: z.array(pathPrefix).default([]),
    /** Path suffixes routed here (`.m3u8`), combined with `suffixUnder` when given. */
    suffixes: z.array(z.string().regex(/^\.[a-z0-9]+$/)).default([]),
    suffixUnder: pathPrefix.optional(),
    /** The pool for every request no other route claims; exactly one component per edge. */
    default: z.boolean().default(false),
  }).nullable().default(null),
  /** Run once per deploy, before any slot changes, from the tools slot. */
  migrations: z.strictObject({
    command: z.array(z.string()).min(1),
    /**
     * Lists, without applying anything, one `pending  <name>` line per
     * migration `command` would apply (migrate_tool --status): the deploy
     * diff's pending migrations, read against the environment's live database.
     */
    status: z.array(z.string()).min(1).optional(),
  }).optional(),
});

export type ComponentDeclaration = z.infer<typeof componentSchema>;

/**
 * What a release needs of a component once it is built: how it runs, is
 * checked, routed and migrated. The release manifest carries it, so a colour
 * runs — and the edge serves it — as declared at the release it holds, not as
 * the workspace declares it today.
 */
export const runtimeDeclarationSchema = componentSchema.omit({ build: true });
export type RuntimeDeclaration = z.infer<typeof runtimeDeclarationSchema>;

export function runtimeDeclaration(c: ComponentDeclaration): RuntimeDeclaration {
  const { build: _build, ...runtime } = c;
  return runtime;
}

export const COMPONENT_FILE = 'component.json';

export function formatZodIssues(file: string, err: z.ZodError): string {
  return err.issues.map((i) => `${file}: ${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

export async function loadComponent(dir: string): Promise<ComponentDeclaration> {
  const file = join(dir, COMPONENT_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new VezaError(`cannot read ${file}: ${(e as Error).message}`, 'every component needs a valid component.json beside its code', 'BAD_COMPONENT');
  }
  return parseComponent(file, text);
}

/** One component.json; its folder's name is the component's name. */
export function parseComponent(file: string, text: string): ComponentDeclaration {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new VezaError(`cannot read ${file}: ${(e as Error).message}`, 'every component needs a valid component.json beside its code', 'BAD_COMPONENT');
  }
  const parsed = componentSchema.safeParse(raw);
  if (!parsed.success) throw new VezaError(formatZodIssues(file, parsed.error), 'fix the declaration (see README, "Component declaration")', 'BAD_COMPONENT');
  const dirName = file.split('/').filter(Boolean).slice(-2)[0];
  if (parsed.data.name !== dirName) {
    throw new VezaError(`${file}: name "${parsed.data.name}" differs from its folder "${dirName}"`, 'make the name equal to the folder name', 'BAD_COMPONENT');
  }
  return parsed.data;
}

export function checkComponentSet(components: readonly RuntimeDeclaration[]): void {
  const ports = new Map<number, string>();
  for (const c of components) {
    const other = ports.get(c.run.port);
    if (other) throw new VezaError(`components ${other} and ${c.name} both use port ${c.run.port}`, 'give each component its own port in component.json', 'BAD_COMPONENT');
    ports.set(c.run.port, c.name);
  }
  const defaults = components.filter((c) => c.edge?.default);
  if (defaults.length > 1) {
    throw new VezaError(`more than one default edge route: ${defaults.map((c) => c.name).join(', ')}`, 'set edge.default on exactly one component', 'BAD_COMPONENT');
  }
}

export function packageName(c: ComponentDeclaration): string {
  return c.package ?? c.name;
}
