import type { ComponentDeclaration } from '../config/component';
import type { ProcessRunner } from '../ports/process';
import type { BuildStep } from './steps';
import type { SourceRef } from './sources';

/** Everything a preset may look at while planning; all paths absolute. */
export interface PresetContext {
  workspaceRoot: string;
  projectRoot: string;
  component: ComponentDeclaration;
  /** The artifact root being built: dist/build/<component>/root. */
  rootDir: string;
  /** Toolchain caches (Go build cache, cargo target dirs) that outlive a clean build. */
  cacheDir: string;
  version: string;
  env: NodeJS.ProcessEnv;
  /** For read-only detection only (installed targets); the plan's own commands run later. */
  runner: ProcessRunner;
}

/**
 * `prepare` validates the declaration and the toolchain and returns the plan;
 * it has no side effects, so a failure leaves the previous build untouched.
 * `outputs` are the top-level names the plan writes into the artifact root.
 */
export interface Preset {
  prepare(ctx: PresetContext): Promise<BuildStep[]>;
  outputs(component: ComponentDeclaration): { name: string; from: string }[];
}

export function sourceRef(ctx: PresetContext, field: string): SourceRef {
  return { workspaceRoot: ctx.workspaceRoot, projectRoot: ctx.projectRoot, field };
}
