import { join } from 'node:path';
import type { ComponentDeclaration } from '../../config/component';
import type { BuildStep } from '../steps';
import { checkFile } from '../sources';
import { requirePackageFile } from '../toolchain';
import { refuseField, requireList, sourceRef, type OutputName, type Preset, type PresetContext } from '../preset';

/** Optional native add-ons that their packages load inside try/catch; bundling them would fail. */
export const OPTIONAL_NATIVE_PEERS = ['pg-native', 'bufferutil', 'utf-8-validate'];

export interface BundlePlanInput {
  esbuild: string;
  workspaceRoot: string;
  rootDir: string;
  /** Output name (no extension) → absolute source path. */
  entries: [string, string][];
}

/**
 * One self-contained CommonJS file per entry. esbuild runs from the
 * workspace root, so the path comments it writes are workspace-relative and
 * the same bytes come out in any checkout; no source map, no timestamps.
 */
export function planBundles(input: BundlePlanInput): BuildStep[] {
  return input.entries.map(([name, source]) => ({
    kind: 'run',
    command: {
      argv: [
        input.esbuild, source,
        '--bundle', '--platform=node', '--target=node20', '--format=cjs',
        '--legal-comments=eof', '--charset=utf8', '--log-level=warning',
        ...OPTIONAL_NATIVE_PEERS.map((p) => `--external:${p}`),
        `--outfile=${join(input.rootDir, `${name}.js`)}`,
      ],
      cwd: input.workspaceRoot,
      description: `bundle ${name}.js`,
    },
  }));
}

export async function prepareBundles(ctx: PresetContext, entries: Record<string, string>): Promise<BuildStep[]> {
  const resolved: [string, string][] = [];
  for (const [name, rel] of Object.entries(entries).sort(([a], [b]) => a.localeCompare(b))) {
    resolved.push([name, await checkFile(sourceRef(ctx, `build.entries.${name}`), rel)]);
  }
  if (resolved.length === 0) return [];
  const esbuild = requirePackageFile('esbuild/bin/esbuild', 'esbuild');
  return planBundles({ esbuild, workspaceRoot: ctx.workspaceRoot, rootDir: ctx.rootDir, entries: resolved });
}

export function bundleOutputs(c: ComponentDeclaration): OutputName[] {
  return Object.keys(c.build.entries ?? {}).map((k) => ({ name: `${k}.js`, from: `build.entries.${k}` }));
}

export const nodePreset: Preset = {
  async prepare(ctx) {
    refuseField(ctx, 'binaries');
    requireList(ctx, 'entries', Object.keys(ctx.component.build.entries ?? {}));
    return prepareBundles(ctx, ctx.component.build.entries ?? {});
  },
  outputs: bundleOutputs,
};
