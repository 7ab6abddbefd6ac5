import { join } from 'node:path';
import type { BuildStep } from '../steps';
import { checkFile } from '../sources';
import { requirePackageFile } from '../toolchain';
import { refuseField, sourceRef, type Preset } from '../preset';
import { bundleOutputs, prepareBundles } from './node';

export const VITE_CONFIG = 'vite.config.ts';
/** The only build-time input that is not a file: the SPA shows the release it was built as. */
export const RELEASE_ENV = 'VITE_RELEASE_SHA';
/** The SPA's files live under this folder of the artifact; the bundled server serves it. */
export const PUBLIC_DIR = 'public';

export interface VitePlanInput {
  node: string;
  vite: string;
  projectRoot: string;
  config: string;
  rootDir: string;
  version: string;
}

export function planVite(input: VitePlanInput): BuildStep {
  return {
    kind: 'run',
    command: {
      argv: [
        input.node, input.vite, 'build', input.projectRoot,
        '--config', input.config,
        '--outDir', join(input.rootDir, PUBLIC_DIR), '--emptyOutDir',
        '--logLevel', 'warn',
      ],
      cwd: input.projectRoot,
      env: { [RELEASE_ENV]: input.version },
      description: 'build the single-page app with vite',
    },
  };
}

export const vitePreset: Preset = {
  async prepare(ctx) {
    refuseField(ctx, 'binaries');
    const config = await checkFile(sourceRef(ctx, 'build.preset (vite config)'), VITE_CONFIG);
    const bundles = await prepareBundles(ctx, ctx.component.build.entries ?? {});
    const vite = join(requirePackageFile('vite/package.json', 'vite'), '..', 'bin', 'vite.js');
    return [
      planVite({ node: process.execPath, vite, projectRoot: ctx.projectRoot, config, rootDir: ctx.rootDir, version: ctx.version }),
      ...bundles,
    ];
  },
  outputs: (c) => [{ name: PUBLIC_DIR, from: 'the vite build' }, ...bundleOutputs(c)],
};
