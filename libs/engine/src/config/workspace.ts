import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { VezaError, isVezaError } from '../log/errors';
import { checkComponentSet, COMPONENT_FILE, parseComponent, type ComponentDeclaration } from './component';
import { EDGES_DIR, parseEdgeDefinition, type EdgeDefinition } from './edge';
import { ENVIRONMENTS_DIR, parseEnvironment, type Environment } from './environment';
import { PATTERNS } from './names';

/**
 * Everything a command knows about the workspace's configuration, read once
 * at its start: every environment file, every edge file and every
 * component.json, each parsed and cross-checked once (components at once,
 * an environment or edge file when first used). Every phase of a
 * command reads this value, so an edit during a deploy cannot change its
 * inputs half-way.
 *
 * A broken file blocks only what needs it (README, "Configuration"): an
 * environment, its edge file, and every environment on that edge — the edge's
 * config holds all their routes, so rendering it without one would drop that
 * environment's pools. Components belong to every release, so a broken one
 * fails the load itself.
 */
export interface Workspace {
  readonly root: string;
  /** Every component, sorted by name. */
  readonly components: ComponentDeclaration[];
  /** Every environment file's name, sorted, whether it parses or not. */
  readonly envNames: readonly string[];
  /** Every edge file's name, sorted, whether it parses or not. */
  readonly edgeNames: readonly string[];
  /** The environment of that name (default: local); throws when its file, or the edge it names, is missing or broken. */
  env(name?: string): Environment;
  edge(name: string): EdgeDefinition;
  /** Every environment whose `edge:` names this edge, sorted; throws when any of them (or a file whose edge cannot be told) is broken. */
  envsOn(edge: string): Environment[];
}

export const DEFAULT_ENV = 'local';

type Parsed<T> = { ok: true; value: T } | { ok: false; file: string; error: VezaError };

interface EnvFile {
  parsed: Parsed<Environment>;
  /** The edge the file names, read from its `edge:` line when the file does not parse; undefined when even that cannot be told. */
  edge: string | undefined;
}

export async function loadWorkspace(root: string): Promise<Workspace> {
  const [envTexts, edgeTexts, componentTexts] = await Promise.all([
    readAll(root, ENVIRONMENTS_DIR, (n) => n.endsWith('.yaml') ? `${ENVIRONMENTS_DIR}/${n}` : undefined),
    readAll(root, EDGES_DIR, (n) => n.endsWith('.yaml') ? `${EDGES_DIR}/${n}` : undefined),
    readComponents(root),
  ]);

  const components = [...componentTexts].map(([file, text]) => parseComponent(join(root, file), text));
  checkComponentSet(components);

  // Every file is read now; each is parsed when first asked for, once: a command on one environment
  // (the operator's `veza status`) does not pay for parsing the others.
  const edges = new Map<string, () => Parsed<EdgeDefinition>>();
  for (const [file, text] of edgeTexts) edges.set(baseName(file), once(() => attempt(file, () => parseEdgeDefinition(file, text))));
  const edgeNames = [...edges.keys()].sort();

  const envs = new Map<string, () => EnvFile>();
  for (const [file, text] of envTexts) {
    envs.set(baseName(file), once(() => {
      const parsed = attempt(file, () => {
        const env = parseEnvironment(file, text);
        if (!edges.has(env.edge)) {
          throw new VezaError(`${file}: edge "${env.edge}" has no ${EDGES_DIR}/${env.edge}.yaml`, `create it, or name one of: ${edgeNames.join(', ') || 'none'}`, 'UNKNOWN_EDGE');
        }
        return env;
      });
      return { parsed, edge: parsed.ok ? parsed.value.edge : edgeLine(text) };
    }));
  }
  const envNames = [...envs.keys()].sort();

  const edge = (name: string): EdgeDefinition => {
    if (!PATTERNS.component.test(name)) throw new VezaError(`invalid edge name ${JSON.stringify(name)}`, `use one of: ${edgeNames.join(', ') || 'none'}`, 'INVALID_INPUT');
    const e = edges.get(name)?.();
    if (!e) throw new VezaError(`unknown edge "${name}" (no ${EDGES_DIR}/${name}.yaml)`, `create it, or point the environment's edge: at one of: ${edgeNames.join(', ') || 'none'}`, 'UNKNOWN_EDGE');
    if (!e.ok) throw e.error;
    return e.value;
  };

  return {
    root,
    components,
    envNames,
    edgeNames,
    env(name = DEFAULT_ENV) {
      if (!PATTERNS.env.test(name)) throw new VezaError(`invalid environment name ${JSON.stringify(name)}`, `use one of: ${envNames.join(', ') || 'none'}`, 'INVALID_INPUT');
      const f = envs.get(name)?.();
      if (!f) {
        throw new VezaError(`unknown environment "${name}" (no ${ENVIRONMENTS_DIR}/${name}.yaml)`, `use one of: ${envNames.join(', ') || 'none'}, or create it with nx g @veza/generators:environment`, 'UNKNOWN_ENV');
      }
      if (!f.parsed.ok) throw f.parsed.error;
      edge(f.parsed.value.edge);
      return f.parsed.value;
    },
    edge,
    envsOn(name) {
      const def = edge(name);
      const files = [...envs.values()].map((f) => f());
      const broken = files.filter((f) => !f.parsed.ok && (f.edge === undefined || f.edge === def.name));
      if (broken.length) {
        const errors = broken.map((f) => f.parsed as Extract<Parsed<Environment>, { ok: false }>);
        const unsure = broken.some((f) => f.edge === undefined) ? ' (a file without a readable top-level edge: line may be on any edge)' : '';
        throw new VezaError(
          `edge ${def.name} serves every environment that names it, and ${errors.map((e) => e.file).join(', ')} cannot be read${unsure}: ${errors.map((e) => e.error.message).join('; ')}`,
          `fix ${errors.map((e) => e.file).join(' and ')} (${errors[0]!.error.hint}); environments on other edges are not blocked by it`,
          'BAD_CONFIG',
        );
      }
      return files.flatMap((f) => (f.parsed.ok && f.parsed.value.edge === def.name ? [f.parsed.value] : [])).sort((a, b) => a.name.localeCompare(b.name));
    },
  };
}

function once<T>(fn: () => T): () => T {
  let done: { value: T } | undefined;
  return () => (done ??= { value: fn() }).value;
}

function attempt<T>(file: string, parse: () => T): Parsed<T> {
  try {
    return { ok: true, value: parse() };
  } catch (e) {
    if (!isVezaError(e)) throw e;
    return { ok: false, file, error: e };
  }
}

/**
 * A file that does not parse still says which edge it is on when its
 * top-level `edge:` line is intact, which is all it takes to keep a typo in
 * staging from blocking an edge staging is not on.
 */
function edgeLine(text: string): string | undefined {
  const m = /^edge:[ \t]*["']?([a-z][a-z0-9-]*)["']?[ \t]*(#.*)?$/m.exec(text);
  return m?.[1];
}

function baseName(file: string): string {
  return file.split('/').pop()!.replace(/\.[a-z]+$/, '');
}

/** Workspace-relative path → text of every file in `dir` that `pick` names. */
async function readAll(root: string, dir: string, pick: (name: string) => string | undefined): Promise<Map<string, string>> {
  const names = (await fs.readdir(join(root, dir)).catch(() => [] as string[])).sort();
  const files = names.map(pick).filter((f): f is string => f !== undefined);
  return new Map(await Promise.all(files.map(async (f) => [f, await fs.readFile(join(root, f), 'utf8')] as const)));
}

/** `apps/<name>/component.json` of every folder that has one. */
async function readComponents(root: string): Promise<Map<string, string>> {
  const dirs = (await fs.readdir(join(root, 'apps'), { withFileTypes: true }).catch(() => [])).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  const out = new Map<string, string>();
  for (const d of dirs) {
    const file = `apps/${d}/${COMPONENT_FILE}`;
    const text = await fs.readFile(join(root, file), 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw new VezaError(`cannot read ${file}: ${e.message}`, 'every component needs a readable component.json beside its code', 'BAD_COMPONENT');
    });
    if (text !== undefined) out.set(file, text);
  }
  return out;
}
