import { delimiter, dirname, join } from 'node:path';
import type { Command } from '../../ports/process';
import type { BuildStep } from '../steps';
import { checkFile } from '../sources';
import { cargoBinDirs, findExecutable, requireExecutable } from '../toolchain';
import { binaryOutputs, refuseField, requireList, sourceRef, type Preset, type PresetContext } from '../preset';

const MUSL_TARGETS: Partial<Record<NodeJS.Architecture, string>> = {
  x64: 'x86_64-unknown-linux-musl',
  arm64: 'aarch64-unknown-linux-musl',
};

export function muslTarget(arch: NodeJS.Architecture = process.arch): string | undefined {
  return MUSL_TARGETS[arch];
}

export function rustupTargetsCommand(rustup: string, cwd: string, env: Record<string, string>): Command {
  return { argv: [rustup, 'target', 'list', '--installed'], cwd, env, description: 'list the installed Rust targets' };
}

export interface CargoPlanInput {
  cargo: string;
  projectRoot: string;
  rootDir: string;
  binaries: string[];
  targetDir: string;
  /** The musl triple when it is installed: a static binary that runs on any Linux. */
  target?: string;
  env: Record<string, string>;
}

export function planCargo(input: CargoPlanInput): BuildStep[] {
  const env = { ...input.env, CARGO_TARGET_DIR: input.targetDir };
  const cwd = input.projectRoot;
  const targetArgs = input.target ? ['--target', input.target] : [];
  const releaseDir = join(input.targetDir, ...(input.target ? [input.target] : []), 'release');
  return [
    { kind: 'run', command: { argv: [input.cargo, 'test', '--offline', '--locked'], cwd, env, description: 'run the Rust tests' } },
    { kind: 'run', command: { argv: [input.cargo, 'build', '--release', '--offline', '--locked', ...targetArgs], cwd, env, description: 'build the release binaries' } },
    ...input.binaries.map((bin): BuildStep => ({ kind: 'copy', from: join(releaseDir, bin), to: join(input.rootDir, bin), mode: 0o755 })),
  ];
}

/** cargo found only in ~/.cargo/bin needs that folder on PATH too, for the rustc it runs. */
function toolEnv(ctx: PresetContext, cargo: string): Record<string, string> {
  const onPath = (ctx.env.PATH ?? '').split(delimiter).includes(dirname(cargo));
  return onPath ? {} : { PATH: [dirname(cargo), ctx.env.PATH].filter(Boolean).join(delimiter) };
}

async function installedMusl(ctx: PresetContext, env: Record<string, string>): Promise<string | undefined> {
  const wanted = muslTarget();
  const rustup = await findExecutable('rustup', ctx.env, cargoBinDirs(ctx.env));
  if (!wanted || !rustup) return undefined;
  const res = await ctx.runner.run(rustupTargetsCommand(rustup, ctx.projectRoot, env), { check: false });
  return res.exitCode === 0 && res.stdout.split('\n').map((l) => l.trim()).includes(wanted) ? wanted : undefined;
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
      projectRoot: ctx.projectRoot,
      rootDir: ctx.rootDir,
      targetDir: join(ctx.cacheDir, 'cargo', ctx.component.name),
      target: await installedMusl(ctx, env),
    });
  },
  outputs: binaryOutputs,
};
