import { homedir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { VezaError } from '../../log/errors';
import type { Command } from '../../ports/process';
import type { BuildStep, FailureHints } from '../steps';
import { checkFile } from '../sources';
import { cargoBinDirs, findExecutable, requireExecutable } from '../toolchain';
import { binaryOutputs, refuseField, requireList, sourceRef, type Preset, type PresetContext } from '../preset';

const MUSL_TARGETS: Partial<Record<NodeJS.Architecture, string>> = {
  x64: 'x86_64-unknown-linux-musl',
  arm64: 'aarch64-unknown-linux-musl',
};
const GNU_TARGETS: Partial<Record<NodeJS.Architecture, string>> = {
  x64: 'x86_64-unknown-linux-gnu',
  arm64: 'aarch64-unknown-linux-gnu',
};

/**
 * Any fixed value works; it only has to be the same on every machine, for
 * crates whose build scripts stamp a date (what reproducible-builds.org asks
 * tools to honour). 2000-01-01T00:00:00Z.
 */
export const SOURCE_DATE_EPOCH = '946684800';

export function muslTarget(arch: NodeJS.Architecture = process.arch): string | undefined {
  return MUSL_TARGETS[arch];
}

export function gnuTarget(arch: NodeJS.Architecture = process.arch): string | undefined {
  return GNU_TARGETS[arch];
}

export function rustupTargetsCommand(rustup: string, cwd: string, env: Record<string, string>): Command {
  return { argv: [rustup, 'target', 'list', '--installed'], cwd, env, description: 'list the installed Rust targets' };
}

/** Where cargo keeps the registry index and downloaded crates (cargo's own default unless CARGO_HOME says otherwise). */
export function cargoHome(env: NodeJS.ProcessEnv): string {
  return env.CARGO_HOME || join(env.HOME || homedir(), '.cargo');
}

export interface CargoPlanInput {
  cargo: string;
  component: string;
  workspaceRoot: string;
  projectRoot: string;
  rootDir: string;
  binaries: string[];
  targetDir: string;
  cargoHome: string;
  /**
   * Always explicit, so RUSTFLAGS reach only the shipped binaries and not
   * build scripts or proc-macros: the musl triple when it is installed (static
   * by default), else the gnu one linked with +crt-static.
   */
  target: { triple: string; kind: 'musl' | 'gnu-static' };
  env: Record<string, string>;
}

/**
 * The release build's rustc flags. The remaps take the checkout's and
 * CARGO_HOME's paths out of panic messages and debug info, so two checkouts
 * give the same bytes.
 */
export function releaseRustflags(input: Pick<CargoPlanInput, 'component' | 'projectRoot' | 'cargoHome' | 'target'>): string[] {
  return [
    ...(input.target.kind === 'gnu-static' ? ['-C', 'target-feature=+crt-static'] : []),
    `--remap-path-prefix=${input.projectRoot}=/build/${input.component}`,
    `--remap-path-prefix=${input.cargoHome}=/cargo`,
  ];
}

function cargoHints(input: CargoPlanInput, step: 'test' | 'build'): FailureHints {
  const dir = relative(input.workspaceRoot, input.projectRoot) || '.';
  return {
    when: [
      {
        match: /failed to (download|query|get|fetch|load source)|spurious network error|Couldn't resolve host|failed to update registry|unable to update registry|attempting to make an HTTP request|\[6\] Could not resolve/,
        hint: `the crate registry could not be reached and ${input.cargoHome} lacks a crate Cargo.lock names — check the network and cargo's registry settings, then re-run; nothing was packaged`,
      },
      {
        match: /lock file .* needs to be updated|--locked was passed/,
        hint: `Cargo.lock is out of step with Cargo.toml — run \`cargo update -w\` in ${dir} and commit Cargo.lock`,
      },
      {
        match: /can't find crate for `(std|core)`|target may not be installed/,
        hint: `the Rust standard library for ${input.target.triple} is not installed — rustup target add ${input.target.triple}, or remove the target so the build uses the host's`,
      },
      {
        match: /cannot find -l|linker `?cc`? not found|undefined reference to/,
        hint: 'the static link needs a C toolchain and static libc: apt-get install gcc libc6-dev (bash tools/scripts/setup.sh installs them)',
      },
    ],
    // cargo's own "error: test failed, to rerun…" says nothing the test lines do not.
    quote: /^error(\[E\d+\])?: (?!test failed)|panicked at|^assertion|^test \S+ \.\.\. FAILED|^\[\d+\] |^--> /,
    otherwise: {
      test: `fix the failing Rust test or compile error (cd ${dir} && cargo test --locked), then re-run; nothing was packaged`,
      build: `fix the compile error (cd ${dir} && cargo build --release --locked), then re-run; nothing was packaged`,
    }[step],
  };
}

export function planCargo(input: CargoPlanInput): BuildStep[] {
  const common = { ...input.env, CARGO_HOME: input.cargoHome, CARGO_TARGET_DIR: input.targetDir, SOURCE_DATE_EPOCH };
  const cwd = input.projectRoot;
  // The unit separator is how cargo takes flags that may contain spaces; it also wins over a user's RUSTFLAGS.
  const buildEnv = { ...common, CARGO_ENCODED_RUSTFLAGS: releaseRustflags(input).join('\x1f') };
  const releaseDir = join(input.targetDir, input.target.triple, 'release');
  return [
    { kind: 'run', command: { argv: [input.cargo, 'test', '--locked'], cwd, env: common, description: 'cargo test' }, onFailure: cargoHints(input, 'test') },
    {
      kind: 'run',
      command: { argv: [input.cargo, 'build', '--release', '--locked', '--target', input.target.triple], cwd, env: buildEnv, description: 'cargo build --release (static)' },
      onFailure: cargoHints(input, 'build'),
    },
    ...input.binaries.map((bin): BuildStep => ({ kind: 'copy', from: join(releaseDir, bin), to: join(input.rootDir, bin), mode: 0o755 })),
  ];
}

/** cargo found only in ~/.cargo/bin needs that folder on PATH too, for the rustc it runs. */
function toolEnv(ctx: PresetContext, cargo: string): Record<string, string> {
  const onPath = (ctx.env.PATH ?? '').split(delimiter).includes(dirname(cargo));
  return onPath ? {} : { PATH: [dirname(cargo), ctx.env.PATH].filter(Boolean).join(delimiter) };
}

async function staticTarget(ctx: PresetContext, env: Record<string, string>): Promise<CargoPlanInput['target']> {
  const musl = muslTarget();
  const rustup = await findExecutable('rustup', ctx.env, cargoBinDirs(ctx.env));
  if (musl && rustup) {
    const res = await ctx.runner.run(rustupTargetsCommand(rustup, ctx.projectRoot, env), { check: false });
    if (res.exitCode === 0 && res.stdout.split('\n').map((l) => l.trim()).includes(musl)) return { triple: musl, kind: 'musl' };
  }
  const gnu = gnuTarget();
  if (!gnu) throw new VezaError(`no static Rust target is known for this machine's architecture (${process.arch})`, 'build on x86_64 or aarch64 Linux, or add the triple to the cargo preset', 'MISSING_TOOLCHAIN');
  return { triple: gnu, kind: 'gnu-static' };
}

export const cargoPreset: Preset = {
  async prepare(ctx) {
    refuseField(ctx, 'entries');
    const binaries = requireList(ctx, 'binaries', ctx.component.build.binaries);
    await checkFile(sourceRef(ctx, 'build.preset (cargo manifest)'), 'Cargo.toml');
    await checkFile(sourceRef(ctx, 'build.preset (cargo lock file, builds are --locked)'), 'Cargo.lock');
    const cargo = await requireExecutable('cargo', ctx.env,
      'install Rust with rustup (or apt-get install cargo) and put ~/.cargo/bin on PATH', cargoBinDirs(ctx.env));
    const env = toolEnv(ctx, cargo);
    return planCargo({
      cargo, env, binaries,
      component: ctx.component.name,
      workspaceRoot: ctx.workspaceRoot,
      projectRoot: ctx.projectRoot,
      rootDir: ctx.rootDir,
      targetDir: join(ctx.cacheDir, 'cargo', ctx.component.name),
      cargoHome: cargoHome(ctx.env),
      target: await staticTarget(ctx, env),
    });
  },
  outputs: binaryOutputs,
};
