import { join } from 'node:path';
import { generateFiles, getProjects, writeJson, type Tree } from '@nx/devkit';
import { componentSchema, type ComponentDeclaration } from '@veza/engine/config/component';
import { PATTERNS } from '@veza/engine/config/names';
import { shortName } from '@veza/engine/hosts/naming';
import { VezaError } from '@veza/engine/log/errors';
import { APPS_DIR, componentFile, edgeModels, readDeclarations } from '../shared/tree-config';
import { userFacing } from '../shared/user-error';

export const KINDS = ['node', 'vite', 'go', 'cargo'] as const;
export type Kind = (typeof KINDS)[number];

export interface ComponentGeneratorOptions {
  name: string;
  kind: string;
  port?: number;
  /** Comma-separated edge path prefixes, e.g. "/a,/b"; default /<name without veza->. */
  routes?: string;
}

/** Where a new component's port search starts: the existing components sit at 8080-8082. */
export const FIRST_PORT = 8080;
// Stricter than the engine's prefix rule (config/component.ts): no bare `/`, no empty segment, no trailing slash.
const ROUTE = /^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/;

export interface ComponentPlan {
  root: string;
  kind: Kind;
  declaration: ComponentDeclaration;
  /** component.json as written: what the generator decided, the schema's defaults left implicit. */
  file: Record<string, unknown>;
}

/** Every check, against the tree as it is; returns what would be written, writes nothing. */
export function planComponent(tree: Tree, options: ComponentGeneratorOptions): ComponentPlan {
  const name = checkName(tree, options.name);
  const kind = checkKind(options.kind);
  const existing = readDeclarations(tree);
  const port = checkPort(options.port, existing.components);
  const routes = checkRoutes(options.routes, name);

  const file = declare(name, kind, port, routes);
  const parsed = componentSchema.safeParse(file);
  if (!parsed.success) throw new Error(`generated an invalid component.json for ${name}: ${parsed.error.message}`);
  // The edge reads every component.json: prove it renders with this one before writing it.
  edgeModels({ ...existing, components: [...existing.components, parsed.data].sort((a, b) => a.name.localeCompare(b.name)) });
  return { root: `${APPS_DIR}/${name}`, kind, declaration: parsed.data, file };
}

function checkName(tree: Tree, name: unknown): string {
  if (typeof name !== 'string' || !PATTERNS.component.test(name)) {
    throw new VezaError(`invalid component name ${JSON.stringify(name)}`, 'use [a-z][a-z0-9-]* (at most 41 characters), e.g. veza-search', 'INVALID_INPUT');
  }
  // Slots, the edge pool and the default route are named after what follows `veza-`.
  if (!/^[a-z]/.test(shortName(name))) {
    throw new VezaError(`invalid component name ${JSON.stringify(name)}: nothing usable follows "veza-"`, 'start the part after veza- with a letter, e.g. veza-search', 'INVALID_INPUT');
  }
  if (tree.exists(`${APPS_DIR}/${name}`)) {
    throw new VezaError(`${APPS_DIR}/${name} already exists`, 'pick another name, or edit the existing component', 'ALREADY_EXISTS');
  }
  if (getProjects(tree).has(name)) {
    throw new VezaError(`an Nx project named ${name} already exists`, 'pick a name no project uses (npx nx show projects)', 'ALREADY_EXISTS');
  }
  return name;
}

function checkKind(kind: unknown): Kind {
  if (!KINDS.includes(kind as Kind)) {
    throw new VezaError(`unknown component kind ${JSON.stringify(kind)}`, `use --kind=${KINDS.join('|')}`, 'INVALID_INPUT');
  }
  return kind as Kind;
}

function checkPort(port: unknown, components: ComponentDeclaration[]): number {
  const used = new Map(components.map((c) => [c.run.port, c.name]));
  if (port === undefined) {
    let p = FIRST_PORT;
    while (used.has(p)) p++;
    return p;
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new VezaError(`invalid port ${JSON.stringify(port)}`, 'use a TCP port number 1-65535, or leave --port out to get the next free one', 'INVALID_INPUT');
  }
  const owner = used.get(port);
  if (owner) throw new VezaError(`port ${port} is already used by ${owner}`, `ports are unique across components; leave --port out to get the next free one`, 'PORT_IN_USE');
  return port;
}

function checkRoutes(spec: unknown, name: string): string[] {
  if (spec === undefined) return [`/${shortName(name)}`];
  const routes = typeof spec === 'string' ? spec.split(',').map((r) => r.trim()) : [];
  const bad = routes.find((r) => !ROUTE.test(r));
  if (routes.length === 0 || bad !== undefined) {
    throw new VezaError(`invalid route ${JSON.stringify(bad ?? spec)} in --routes`, 'give comma-separated absolute paths without a trailing slash, e.g. --routes=/search,/suggest', 'INVALID_INPUT');
  }
  if (new Set(routes).size !== routes.length) throw new VezaError(`--routes lists a path twice: ${spec}`, 'list each path once', 'INVALID_INPUT');
  return routes;
}

/** Health and status live under the first route: the deploy verifies status through the public URL, so the edge must route it here. */
function declare(name: string, kind: Kind, port: number, routes: string[]): Record<string, unknown> {
  const short = shortName(name);
  const build = kind === 'go' || kind === 'cargo'
    ? { preset: kind, binaries: [name] }
    : { preset: kind, entries: { server: kind === 'vite' ? 'server/serve.ts' : 'src/main.ts' } };
  return {
    name,
    build,
    run: {
      command: kind === 'go' || kind === 'cargo' ? [`./${name}`] : ['node', 'server.js'],
      port,
      health: `${routes[0]}/health`,
      status: `${routes[0]}/status`,
    },
    edge: {
      backend: `${short.replace(/-/g, '_')}_pool`,
      prefixes: routes,
    },
  };
}

export function generateComponent(tree: Tree, options: ComponentGeneratorOptions): void {
  const plan = planComponent(tree, options);
  const d = plan.declaration;
  generateFiles(tree, join(__dirname, 'files', plan.kind), plan.root, {
    tmpl: '',
    name: d.name,
    port: d.run.port,
    health: d.run.health,
    status: d.run.status!,
    // vite serves the app under its first route.
    base: `${d.edge!.prefixes[0]}/`,
    goModule: `veza.invalid/${d.name}`,
  });
  writeJson(tree, componentFile(d.name), plan.file);
}

export default userFacing(generateComponent);
