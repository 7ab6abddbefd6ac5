import { VezaError } from '../log/errors';
import type { ComponentDeclaration } from '../config/component';
import type { ProcessRunner } from '../ports/process';
import type { BuildStep } from './steps';
import { declarationFile, type SourceRef } from './sources';

/** Everything a preset may look at while planning; all paths absolute. */
export interface PresetContext {
  workspaceRoot: string;
  projectRoot: string;
  component: ComponentDeclaration;
  /** The artifact root being built: dist/build/<component>/root. */
  rootDir: string;
  /** Per-workspace toolchain state that outlives a clean build (cargo target dirs). */
  cacheDir: string;
  version: string;
  env: NodeJS.ProcessEnv;
  /** For read-only detection only (installed targets); the plan's own commands run later. */
  runner: ProcessRunner;
}

export interface OutputName {
  name: string;
  /** The declaration field that produces it, for collision messages. */
  from: string;
}

/**
 * `prepare` validates the declaration and the toolchain and returns the plan;
 * it has no side effects, so a failure leaves the previous build untouched.
 * `outputs` are the top-level names the plan writes into the artifact root.
 */
export interface Preset {
  prepare(ctx: PresetContext): Promise<BuildStep[]>;
  outputs(component: ComponentDeclaration): OutputName[];
}

export function sourceRef(ctx: PresetContext, field: string): SourceRef {
  return { workspaceRoot: ctx.workspaceRoot, projectRoot: ctx.projectRoot, field };
}

/** A field the preset does not use is almost always a mistake in the declaration; say so instead of ignoring it. */
export function refuseField(ctx: PresetContext, field: 'entries' | 'binaries'): void {
  if (ctx.component.build[field] !== undefined) {
    throw new VezaError(`${declarationFile(sourceRef(ctx, field))}: build.${field} is not used by the ${ctx.component.build.preset} preset`,
      field === 'entries' ? 'go and cargo list build.binaries instead' : 'node and vite list build.entries instead', 'BAD_COMPONENT');
  }
}

export function requireList<T>(ctx: PresetContext, field: 'entries' | 'binaries', value: T[] | undefined): T[] {
  if (!value || value.length === 0) {
    throw new VezaError(`${declarationFile(sourceRef(ctx, field))}: the ${ctx.component.build.preset} preset needs build.${field}`,
      field === 'entries' ? 'add build.entries, e.g. { "server": "src/main.ts" }' : 'add build.binaries, e.g. ["veza-api"]', 'BAD_COMPONENT');
  }
  return value;
}

export function binaryOutputs(c: ComponentDeclaration): OutputName[] {
  return (c.build.binaries ?? []).map((b) => ({ name: b, from: `build.binaries (${b})` }));
}
