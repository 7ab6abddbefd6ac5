import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadComponent, packageName, type ComponentDeclaration } from '../config/component';
import { VezaError } from '../log/errors';
import type { Logger } from '../log/logger';
import { createProcessRunner, type ProcessRunner } from '../ports/process';
import { resolveBuildVersion } from './version';
import { writeJsonAtomic } from '../util/atomic';
import { buildPaths, type BuildPaths, type BuildRecord } from './output';
import type { Preset, PresetContext } from './preset';
import { cargoPreset } from './presets/cargo';
import { goPreset } from './presets/go';
import { nodePreset } from './presets/node';
import { vitePreset } from './presets/vite';
import { assetName, checkDistinctOutputs, checkExists, declarationFile } from './sources';
import { runSteps, type BuildStep } from './steps';

export const PRESETS: Record<ComponentDeclaration['build']['preset'], Preset> = {
  node: nodePreset,
  vite: vitePreset,
  go: goPreset,
  cargo: cargoPreset,
};

export interface BuildOptions {
  workspaceRoot: string;
  /** The component's folder, absolute or relative to the workspace root. */
  projectRoot: string;
  log: Logger;
  runner?: ProcessRunner;
  env?: NodeJS.ProcessEnv;
}

export interface BuildPlan {
  record: BuildRecord;
  paths: BuildPaths;
  steps: BuildStep[];
}

/** Everything up to the first side effect: declaration, version, toolchain and every named path checked. */
export async function planBuild(opts: BuildOptions): Promise<BuildPlan> {
  const workspaceRoot = resolve(opts.workspaceRoot);
  const projectRoot = resolve(workspaceRoot, opts.projectRoot);
  const env = opts.env ?? process.env;
  const runner = opts.runner ?? createProcessRunner();
  const component = await loadComponent(projectRoot);
  const version = await resolveBuildVersion(workspaceRoot, env, runner);
  const paths = buildPaths(workspaceRoot, component.name);
  const preset = PRESETS[component.build.preset];
  const ctx: PresetContext = {
    workspaceRoot, projectRoot, component, version, env, runner,
    rootDir: paths.rootDir,
    cacheDir: join(workspaceRoot, 'dist', '.cache'),
  };
  const ref = (field: string) => ({ workspaceRoot, projectRoot, field });

  checkDistinctOutputs(declarationFile(ref('build')), [
    ...preset.outputs(component),
    ...component.build.assets.map((a) => ({ name: assetName(a), from: `build.assets (${a})` })),
  ]);
  const steps = await preset.prepare(ctx).catch((e: unknown) => {
    // A missing toolchain names the tool, not who needed it; say which component's build stopped.
    if (e instanceof VezaError && e.code === 'MISSING_TOOLCHAIN') throw new VezaError(`${component.name}: cannot build: ${e.message}`, e.hint, e.code);
    throw e;
  });
  for (const asset of component.build.assets) {
    const from = await checkExists(ref(`build.assets (${asset})`), asset);
    steps.push({ kind: 'copy', from, to: join(paths.rootDir, assetName(asset)) });
  }
  return {
    record: { component: component.name, package: packageName(component), version, preset: component.build.preset },
    paths,
    steps,
  };
}

/**
 * Cleans dist/build/<component>, builds the artifact root, and writes
 * build.json last: its presence means root/ is complete. A failed build
 * leaves neither behind.
 */
export async function buildComponent(opts: BuildOptions): Promise<BuildPlan> {
  const plan = await planBuild(opts);
  const runner = opts.runner ?? createProcessRunner();
  await fs.rm(plan.paths.outDir, { recursive: true, force: true });
  await fs.mkdir(plan.paths.rootDir, { recursive: true });
  try {
    await runSteps(plan.steps, { runner, log: opts.log, workspaceRoot: resolve(opts.workspaceRoot), component: plan.record.component });
  } catch (e) {
    await fs.rm(plan.paths.rootDir, { recursive: true, force: true });
    throw e;
  }
  await writeJsonAtomic(plan.paths.recordFile, plan.record);
  return plan;
}
