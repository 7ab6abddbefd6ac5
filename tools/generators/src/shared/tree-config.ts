import type { Tree } from '@nx/devkit';
import { checkComponentSet, COMPONENT_FILE, componentSchema, formatZodIssues, type ComponentDeclaration } from '@veza/engine/config/component';
import { ENVIRONMENTS_DIR, environmentSchema, type Environment } from '@veza/engine/config/environment';
import { parseYamlWithSchema } from '@veza/engine/config/yaml-errors';
import { EDGES_DIR, parseEdgeDefinition, type EdgeDefinition } from '@veza/engine/config/edge';
import { buildEdgeModel, type EdgeModel } from '@veza/engine/edge/model';
import { VezaError } from '@veza/engine/log/errors';

/**
 * The workspace's declarations read from an Nx Tree with the engine's own
 * schemas, so a generator sees pending changes and validates exactly what the
 * edge and deploy will later load from disk.
 */
export const APPS_DIR = 'apps';

export function componentFile(name: string): string {
  return `${APPS_DIR}/${name}/${COMPONENT_FILE}`;
}

export function environmentFile(name: string): string {
  return `${ENVIRONMENTS_DIR}/${name}.yaml`;
}

export function readComponents(tree: Tree): ComponentDeclaration[] {
  const out: ComponentDeclaration[] = [];
  for (const dir of tree.children(APPS_DIR).sort()) {
    const file = componentFile(dir);
    if (!tree.isFile(file)) continue;
    out.push(parseComponent(file, tree.read(file, 'utf8')!));
  }
  return out;
}

/** Same rules as the engine's loadComponent: valid JSON, the schema, and the name equal to the folder. */
export function parseComponent(file: string, text: string): ComponentDeclaration {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new VezaError(`cannot parse ${file}: ${(e as Error).message}`, 'every component needs a valid component.json beside its code', 'BAD_COMPONENT');
  }
  const parsed = componentSchema.safeParse(raw);
  if (!parsed.success) throw new VezaError(formatZodIssues(file, parsed.error), 'fix the declaration (see README, "Component declaration")', 'BAD_COMPONENT');
  const folder = file.split('/').slice(-2, -1)[0];
  if (parsed.data.name !== folder) {
    throw new VezaError(`${file}: name "${parsed.data.name}" differs from its folder "${folder}"`, 'make the name equal to the folder name', 'BAD_COMPONENT');
  }
  return parsed.data;
}

function yamlFiles(tree: Tree, dir: string): string[] {
  return tree.children(dir).filter((f) => f.endsWith('.yaml') && tree.isFile(`${dir}/${f}`)).sort();
}

export function readEnvironments(tree: Tree): Environment[] {
  return yamlFiles(tree, ENVIRONMENTS_DIR).map((f) => parseEnvironment(`${ENVIRONMENTS_DIR}/${f}`, tree.read(`${ENVIRONMENTS_DIR}/${f}`, 'utf8')!));
}

export function parseEnvironment(file: string, text: string): Environment {
  const env = parseYamlWithSchema(file, text, environmentSchema, 'fix the environment file (see README, "Environments")');
  const expected = file.split('/').pop()!.replace(/\.yaml$/, '');
  if (env.name !== expected) throw new VezaError(`${file}: name "${env.name}" differs from the file name`, `set name: ${expected}`, 'BAD_CONFIG');
  return env;
}

export function readEdges(tree: Tree): EdgeDefinition[] {
  return yamlFiles(tree, EDGES_DIR).map((f) => parseEdgeDefinition(`${EDGES_DIR}/${f}`, tree.read(`${EDGES_DIR}/${f}`, 'utf8')!));
}

export interface Declarations {
  components: ComponentDeclaration[];
  environments: Environment[];
  edges: EdgeDefinition[];
}

export function readDeclarations(tree: Tree): Declarations {
  return { components: readComponents(tree), environments: readEnvironments(tree), edges: readEdges(tree) };
}

/**
 * Builds every edge's model from the declarations, exactly as `infra-edge:render`
 * will: port and default-route clashes, overlapping prefixes, duplicate
 * backends or hosts, and an environment its edge cannot serve all fail here,
 * before a generator writes anything.
 */
export function edgeModels(d: Declarations): EdgeModel[] {
  checkComponentSet(d.components);
  for (const env of d.environments) {
    if (!d.edges.some((e) => e.name === env.edge)) {
      throw new VezaError(`${environmentFile(env.name)}: edge "${env.edge}" has no ${EDGES_DIR}/${env.edge}.yaml`, `use one of: ${d.edges.map((e) => e.name).join(', ') || 'none'}`, 'UNKNOWN_EDGE');
    }
  }
  return d.edges.map((def) => buildEdgeModel({ def, envs: d.environments.filter((e) => e.edge === def.name), components: d.components }));
}
