import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuildStep } from '../steps';
import { checkDir, checkFile } from '../sources';
import { requireExecutable } from '../toolchain';
import { binaryOutputs, refuseField, requireList, sourceRef, type Preset } from '../preset';

export interface GoPlanInput {
  go: string;
  projectRoot: string;
  rootDir: string;
  binaries: string[];
  /** GOCACHE and GOPATH: content-addressed and safe to share between checkouts and parallel builds. */
  goCache: string;
  goPath: string;
}

/**
 * Static, reproducible binaries from std-only or vendored modules: no cgo,
 * no network (GOPROXY=off), no VCS stamp, no build id, no local paths.
 * -trimpath in GOFLAGS too, so `go test` and `go build` share one compiled
 * standard library instead of building it twice.
 */
export function goEnv(input: Pick<GoPlanInput, 'goCache' | 'goPath'>): Record<string, string> {
  return {
    CGO_ENABLED: '0',
    GOPROXY: 'off',
    GOFLAGS: '-buildvcs=false -trimpath',
    GOTOOLCHAIN: 'local',
    GOCACHE: input.goCache,
    GOPATH: input.goPath,
  };
}

/** The user's own Go caches when they name them, else one under the OS temp folder rather than in $HOME. */
export function goCaches(env: NodeJS.ProcessEnv): { goCache: string; goPath: string } {
  return {
    goCache: env.GOCACHE || join(tmpdir(), 'veza-go', 'cache'),
    goPath: env.GOPATH || join(tmpdir(), 'veza-go', 'path'),
  };
}

export function planGo(input: GoPlanInput): BuildStep[] {
  const env = goEnv(input);
  const cwd = input.projectRoot;
  return [
    { kind: 'run', command: { argv: [input.go, 'test', './...'], cwd, env, description: 'run the Go tests' } },
    ...input.binaries.map((bin): BuildStep => ({
      kind: 'run',
      command: {
        argv: [input.go, 'build', '-trimpath', '-buildvcs=false', '-ldflags=-buildid=', '-o', join(input.rootDir, bin), `./cmd/${bin}`],
        cwd, env, description: `build the ${bin} binary`,
      },
    })),
  ];
}

export const goPreset: Preset = {
  async prepare(ctx) {
    refuseField(ctx, 'entries');
    const binaries = requireList(ctx, 'binaries', ctx.component.build.binaries);
    await checkFile(sourceRef(ctx, 'build.preset (go module)'), 'go.mod');
    for (const bin of binaries) await checkDir(sourceRef(ctx, `build.binaries (${bin})`), join('cmd', bin));
    const go = await requireExecutable('go', ctx.env, 'install the Go toolchain: apt-get install golang-go');
    return planGo({ go, projectRoot: ctx.projectRoot, rootDir: ctx.rootDir, binaries, ...goCaches(ctx.env) });
  },
  outputs: binaryOutputs,
};
