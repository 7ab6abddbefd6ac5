import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import type { BuildStep, FailureHints } from '../steps';
import { checkDir, checkFile } from '../sources';
import { requireExecutable } from '../toolchain';
import { binaryOutputs, refuseField, requireList, sourceRef, type Preset } from '../preset';

/**
 * The user's module-source settings, passed on as they are (commands inherit
 * the process's environment, not the one the build was asked to use).
 */
export const GO_SOURCE_VARS = ['GOPROXY', 'GOSUMDB', 'GOPRIVATE', 'GONOPROXY', 'GONOSUMDB', 'GOINSECURE'] as const;

export interface GoCaches {
  /** Compiled packages and test results: content-addressed, safe to share between checkouts and parallel builds. */
  goCache: string;
  /** Downloaded modules, verified against go.sum: once warm, a rebuild downloads nothing. */
  goModCache: string;
}

export interface GoPlanInput extends GoCaches {
  go: string;
  component: string;
  /** For the commands a hint tells the user to re-run. */
  workspaceRoot: string;
  projectRoot: string;
  rootDir: string;
  binaries: string[];
  version: string;
  /** GO_SOURCE_VARS that are set; absent ones leave Go's own defaults. */
  sources?: Record<string, string>;
}

/**
 * Static, reproducible binaries: no cgo, no VCS stamp, no local paths
 * (-trimpath also in GOFLAGS, so `go vet`, `go test` and `go build` share
 * one compiled standard library), go.mod and go.sum as they are
 * (-mod=readonly). Modules come through the machine's own GOPROXY, which
 * this leaves alone; GOTOOLCHAIN=local so a go.mod never makes the build
 * download another Go.
 */
export function goEnv(caches: GoCaches, sources: Record<string, string> = {}): Record<string, string> {
  return {
    ...sources,
    CGO_ENABLED: '0',
    GOFLAGS: '-buildvcs=false -trimpath -mod=readonly',
    GOTOOLCHAIN: 'local',
    GOCACHE: caches.goCache,
    GOMODCACHE: caches.goModCache,
  };
}

/**
 * The user's own GOCACHE/GOMODCACHE when they name them, else folders under
 * the user's cache directory: outside Nx outputs and the workspace, so they
 * survive `nx reset`, a clean checkout and a reboot, and stay warm.
 */
export function goCaches(env: NodeJS.ProcessEnv): GoCaches {
  const cacheHome = env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
  return {
    goCache: env.GOCACHE || join(cacheHome, 'veza', 'go', 'build'),
    goModCache: env.GOMODCACHE || join(cacheHome, 'veza', 'go', 'mod'),
  };
}

export function goSources(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(GO_SOURCE_VARS.filter((k) => env[k] !== undefined).map((k) => [k, env[k]!]));
}

/** -s -w: no symbol table or DWARF (smaller, and nothing path-like left); an empty build id keeps the bytes stable. */
export function goLdflags(version: string): string {
  return `-ldflags=-s -w -buildid= -X main.release=${version}`;
}

/** The failures a user can act on differently: the module proxy, a compile error, a test. */
function goHints(input: GoPlanInput, step: 'vet' | 'test' | 'build'): FailureHints {
  const dir = relative(input.workspaceRoot, input.projectRoot) || '.';
  return {
    when: [
      {
        match: /dial tcp|no such host|i\/o timeout|proxyconnect|connection refused|TLS handshake|GOPROXY=off|module lookup disabled|reading https?:\/\/\S+: 5\d\d/,
        hint: `the Go module proxy could not be reached and ${input.goModCache} lacks a module go.sum names — check the network and \`go env GOPROXY\`, then re-run; nothing was packaged`,
      },
      {
        match: /missing go\.sum entry|updates to go\.mod needed|go\.mod file indicates go|requires go >= /,
        hint: `go.mod/go.sum are out of step with the code or the toolchain — run \`go mod tidy\` in ${dir} with Go ≥ the go.mod version and commit both files`,
      },
    ],
    // `go: downloading …` is progress, not the problem: with a few modules it would crowd out the line that names it.
    quote: /\.go:\d+(:\d+)?:|^--- FAIL|^panic:|^go: (?!downloading )|^pattern |^no Go files/,
    otherwise: {
      vet: `fix what go vet reports (cd ${dir} && go vet ./...), then re-run; nothing was packaged`,
      test: `fix the failing Go test (cd ${dir} && go test ./...), then re-run; nothing was packaged`,
      build: `fix the compile error (cd ${dir} && go build ./...), then re-run; nothing was packaged`,
    }[step],
  };
}

export function planGo(input: GoPlanInput): BuildStep[] {
  const env = goEnv(input, input.sources);
  const cwd = input.projectRoot;
  return [
    { kind: 'run', command: { argv: [input.go, 'vet', './...'], cwd, env, description: 'go vet' }, onFailure: goHints(input, 'vet') },
    { kind: 'run', command: { argv: [input.go, 'test', './...'], cwd, env, description: 'go test' }, onFailure: goHints(input, 'test') },
    ...input.binaries.map((bin): BuildStep => ({
      kind: 'run',
      command: {
        argv: [input.go, 'build', '-trimpath', '-buildvcs=false', goLdflags(input.version), '-o', join(input.rootDir, bin), `./cmd/${bin}`],
        cwd, env, description: `go build of ${bin}`,
      },
      onFailure: goHints(input, 'build'),
    })),
  ];
}

export const goPreset: Preset = {
  async prepare(ctx) {
    refuseField(ctx, 'entries');
    const binaries = requireList(ctx, 'binaries', ctx.component.build.binaries);
    await checkFile(sourceRef(ctx, 'build.preset (go module)'), 'go.mod');
    for (const bin of binaries) await checkDir(sourceRef(ctx, `build.binaries (${bin})`), join('cmd', bin));
    const go = await requireExecutable('go', ctx.env, 'install the Go toolchain (at least the go.mod version) and put it on PATH, e.g. /usr/local/go/bin; bash tools/scripts/setup.sh says what is missing');
    return planGo({
      go, binaries,
      component: ctx.component.name,
      workspaceRoot: ctx.workspaceRoot,
      projectRoot: ctx.projectRoot,
      rootDir: ctx.rootDir,
      version: ctx.version,
      sources: goSources(ctx.env),
      ...goCaches(ctx.env),
    });
  },
  outputs: binaryOutputs,
};
