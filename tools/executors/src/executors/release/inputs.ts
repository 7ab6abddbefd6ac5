import type { NxJsonConfiguration, ProjectGraph, TargetConfiguration } from '@nx/devkit';

type Input = NonNullable<TargetConfiguration['inputs']>[number];

/** The targets whose inputs make a component's artifact; `test` gates it but does not shape it. */
const ARTIFACT_TARGETS = ['build', 'package'];

/**
 * The git pathspecs a component's artifact depends on, from the same inputs
 * Nx hashes. Exclusions are dropped, so a change there rebuilds too: never a
 * stale artifact, at worst one build too many. Non-file inputs (the
 * toolchain's version, env vars) cannot be diffed: bumping a toolchain
 * alone reuses the artifacts, as `nx affected` would.
 */
export function artifactInputPaths(graph: ProjectGraph, nxJson: NxJsonConfiguration, project: string): string[] {
  const paths = new Set<string>();
  const seen = new Set<string>();
  const expand = (name: string, inputs: readonly Input[]): void => {
    for (const input of inputs) {
      if (typeof input === 'string') {
        if (input.startsWith('^')) dependencies(input.slice(1));
        else if (input.startsWith('!')) continue;
        else if (input.includes('{projectRoot}') || input.includes('{workspaceRoot}')) paths.add(pathspec(input, graph.nodes[name]!.data.root, name));
        else named(name, input);
      } else if ('fileset' in input) {
        if (!input.fileset.startsWith('!')) paths.add(pathspec(input.fileset, graph.nodes[name]!.data.root, name));
      } else if ('input' in input) {
        if ('dependencies' in input && input.dependencies) dependencies(input.input);
        else named(name, input.input);
      }
    }
    function dependencies(input: string): void {
      for (const d of graph.dependencies[name] ?? []) if (graph.nodes[d.target]) named(d.target, input);
    }
  };
  const named = (name: string, input: string): void => {
    const key = `${name}\0${input}`;
    if (seen.has(key)) return;
    seen.add(key);
    const inputs = graph.nodes[name]!.data.namedInputs?.[input] ?? nxJson.namedInputs?.[input] ?? (input === 'default' ? ['{projectRoot}/**/*'] : []);
    expand(name, inputs);
  };
  for (const target of ARTIFACT_TARGETS) {
    const t = graph.nodes[project]?.data.targets?.[target];
    if (t) expand(project, t.inputs ?? ['default', '^default']);
  }
  return [...paths].sort();
}

function pathspec(fileset: string, root: string, name: string): string {
  const path = fileset.replace('{projectRoot}', root).replace('{workspaceRoot}/', '').replace('{workspaceRoot}', '').replaceAll('{projectName}', name);
  return `:(glob)${path}`;
}
