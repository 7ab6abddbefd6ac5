import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createNodesFromFiles, type CreateNodesContextV2, type CreateNodesV2, type TargetConfiguration } from 'nx/src/devkit-exports';
import type { ComponentDeclaration } from '@veza/engine/config/component';
import { goCaches, goEnv, goSources } from '@veza/engine/build/presets/go';
import { SOURCE_DATE_EPOCH } from '@veza/engine/build/presets/cargo';
import { describeError } from '@veza/engine/log/errors';
import { parseComponent } from '../shared/tree-config';

/**
 * Infers every component's Nx project from its `apps/<name>/component.json`,
 * so a component needs no project.json: the `type:component` tag (which
 * infra-deploy's dependsOn selects) and the test → build → package → publish
 * targets. Inputs, outputs, caching and the dependsOn chain come from
 * nx.json's targetDefaults, exactly as for a hand-written project.json.
 */
export const COMPONENT_TAG = 'type:component';

/** The workspace-relative cargo target folder the cargo preset builds in, so `test` and `build` share one compilation. */
function cargoTargetDir(c: ComponentDeclaration): string {
  return `../../dist/.cache/cargo/${c.name}`;
}

/** How a component's own tests run: the workspace test runner for TypeScript, the toolchain's runner otherwise (with the env its build uses). */
export function testTarget(root: string, c: ComponentDeclaration): TargetConfiguration {
  switch (c.build.preset) {
    case 'node':
    case 'vite':
      return { executor: 'nx:run-commands', options: { command: `node tools/scripts/run-tests.mjs ${root}` } };
    case 'go':
      return { executor: 'nx:run-commands', options: { commands: ['go vet ./...', 'go test ./...'], parallel: false, cwd: root, env: goEnv(goCaches(process.env), goSources(process.env)) } };
    case 'cargo':
      return { executor: 'nx:run-commands', options: { command: 'cargo test --locked', cwd: root, env: { CARGO_TARGET_DIR: cargoTargetDir(c), SOURCE_DATE_EPOCH } } };
  }
}

/**
 * A Go or Rust component's hash is its own folder (go.mod and go.sum, or
 * Cargo.toml and Cargo.lock, with the code) and its toolchain's version —
 * not the npm lockfile or the TypeScript config every other project shares,
 * which its binaries never see. Target defaults win over inferred targets'
 * inputs in Nx, so this overrides the `default` named input for the project
 * instead; `production` and the build's tooling inputs build on it. Their
 * tests run with their own toolchain, so the workspace test runner is no input.
 */
export function componentNamedInputs(c: ComponentDeclaration): Record<string, string[]> | undefined {
  switch (c.build.preset) {
    case 'go':
      return { default: ['{projectRoot}/**/*', 'goToolchain'], testRunner: [] };
    case 'cargo':
      return { default: ['{projectRoot}/**/*', 'cargoToolchain'], testRunner: [] };
    default:
      return undefined;
  }
}

export function componentTargets(root: string, c: ComponentDeclaration): Record<string, TargetConfiguration> {
  return {
    test: testTarget(root, c),
    build: { executor: '@veza/executors:build' },
    package: { executor: '@veza/executors:package' },
    publish: { executor: '@veza/executors:publish', options: { env: 'local' } },
  };
}

function componentNodes(file: string, _options: unknown, context: CreateNodesContextV2) {
  const root = dirname(file);
  let c: ComponentDeclaration;
  try {
    c = parseComponent(file, readFileSync(join(context.workspaceRoot, file), 'utf8'));
  } catch (e) {
    // Nx shows the message alone: keep the hint (what to do) in it.
    throw new Error(describeError(e));
  }
  return {
    projects: {
      [root]: {
        name: c.name, projectType: 'application' as const, tags: [COMPONENT_TAG], targets: componentTargets(root, c),
        ...(componentNamedInputs(c) ? { namedInputs: componentNamedInputs(c) } : {}),
      },
    },
  };
}

export const createNodesV2: CreateNodesV2 = [
  'apps/*/component.json',
  (files, options, context) => createNodesFromFiles(componentNodes, files, options, context),
];
