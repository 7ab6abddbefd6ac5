import { createHash } from 'node:crypto';
import { VezaError } from '../../log/errors';
import type { Command, RunResult } from '../../ports/process';
import { shellScript } from '../../util/shell-script';
import * as cli from './cli';
import type { IncusClient } from './client';
import { APP_PROFILE, type IncusSettings } from './host';

/**
 * Runtime images: what a slot needs from its OS (`run.needs`, Debian package
 * names) is installed once per distinct set into an image of its own, built
 * from the environment's base image and named by the hash of its recipe, so
 * slots launch ready to run and no deploy runs apt per slot. A component
 * that needs nothing launches from the base image itself.
 *
 * A build: a builder container from the base image (by fingerprint, so the
 * image built is the one hashed), apt inside it, stopped, published under
 * the alias, deleted — pass or fail.
 */
const BUILD_SCRIPT = shellScript('hosts/incus/scripts/build-runtime.sh');
const APT_UPDATE_FAILED = 10;
const APT_INSTALL_FAILED = 11;

const PACKAGE = /^[a-z0-9][a-z0-9+.-]+$/;
const ALIAS_PREFIX = 'veza-runtime-';
const BUILDER_LABEL = 'user.veza.runtime-builder';

export interface RuntimeRecipe {
  /** The base image's fingerprint: a new base (a new images:debian/13 build) is a new recipe. */
  base: string;
  /** Sorted, without duplicates. */
  needs: string[];
}

export function runtimeRecipe(base: string, needs: readonly string[], components: readonly string[]): RuntimeRecipe {
  for (const n of needs) {
    if (!PACKAGE.test(n)) {
      throw new VezaError(`${components.join(', ')} declares ${JSON.stringify(n)} in run.needs, which is not a Debian package name`,
        `correct run.needs in apps/${components[0]}/component.json (lower-case package names such as nodejs)`, 'UNKNOWN_PACKAGE');
    }
  }
  return { base, needs: [...new Set(needs)].sort() };
}

/**
 * The build script itself is part of the hash (it is the recipe's version):
 * changing what a build does can never reuse an image the old script made.
 */
export function recipeHash(r: RuntimeRecipe): string {
  return createHash('sha256').update(JSON.stringify({ base: r.base, needs: r.needs, script: BUILD_SCRIPT })).digest('hex').slice(0, 16);
}

export function runtimeAlias(hash: string): string {
  return `${ALIAS_PREFIX}${hash}`;
}

/** The fingerprint line of `incus image info`. */
export function parseFingerprint(text: string): string | undefined {
  return /^Fingerprint: ([0-9a-f]{64})$/m.exec(text)?.[1];
}

/** A remote image is launched as `<remote>:<fingerprint>`, a local one by its fingerprint. */
export function launchRef(image: string, fingerprint: string): string {
  const colon = image.indexOf(':');
  return colon < 0 ? fingerprint : `${image.slice(0, colon)}:${fingerprint}`;
}

export interface BuildInputs {
  recipe: RuntimeRecipe;
  /** What the builder launches from: launchRef() of the base. */
  from: string;
  network: string;
  pool: string;
}

export interface BuildCommands {
  builder: string;
  alias: string;
  launch: Command;
  install: Command;
  stop: Command;
  publish: Command;
  remove: Command;
}

/** Every command of one build, as data. */
export function buildCommands(scope: cli.IncusScope, b: BuildInputs): BuildCommands {
  const hash = recipeHash(b.recipe);
  const alias = runtimeAlias(hash);
  const builder = `veza-build-${hash}`;
  return {
    builder,
    alias,
    launch: cli.launch(scope, { image: b.from, name: builder, profiles: [APP_PROFILE], network: b.network, pool: b.pool, config: { [BUILDER_LABEL]: alias } }),
    install: cli.exec(scope, builder, ['sh', '-c', BUILD_SCRIPT, 'veza-build', ...b.recipe.needs], { timeoutMs: 20 * 60_000, description: `install ${b.recipe.needs.join(' ')} in ${builder}` }),
    stop: cli.stopInstance(scope, builder),
    publish: cli.publish(scope, builder, alias, { description: `Veza runtime: ${b.recipe.needs.join(' ')}`, 'veza.base': b.recipe.base, 'veza.needs': b.recipe.needs.join(' ') }),
    remove: cli.deleteInstance(scope, builder),
  };
}

/** The packages apt says it does not know, or cannot install from any source, in its own words. */
export function aptUnknownPackages(output: string): { name: string; line: string }[] {
  const out: { name: string; line: string }[] = [];
  for (const line of output.split('\n')) {
    const m = /^E: Unable to locate package (\S+)/.exec(line) ?? /^E: Package '([^']+)' has no installation candidate/.exec(line);
    if (m) out.push({ name: m[1]!, line: line.slice(3).trim() });
  }
  return out;
}

/** Why a build failed, naming the components whose slots would have used the image. */
export function buildFailure(res: RunResult, b: { recipe: RuntimeRecipe; components: readonly string[]; image: string; network: string; builder: string }): VezaError {
  const output = `${res.stdout}\n${res.stderr}`;
  const unknown = aptUnknownPackages(output);
  const who = b.components.join(', ');
  const files = b.components.map((c) => `apps/${c}/component.json`).join(', ');
  if (res.exitCode === APT_INSTALL_FAILED && unknown.length > 0) {
    const names = unknown.map((u) => u.name);
    return new VezaError(`${who} needs ${names.join(', ')} (run.needs), which apt does not know on the base image ${b.image}: ${unknown.map((u) => u.line).join('; ')}`,
      `correct run.needs in ${files} (find the name with apt-cache search in a container of ${b.image}); no slot was changed`, 'UNKNOWN_PACKAGE');
  }
  const tail = output.trim().split('\n').slice(-3).join(' | ');
  if (res.exitCode === APT_UPDATE_FAILED) {
    return new VezaError(`the runtime image of ${who} (${b.recipe.needs.join(' ')}) cannot be built: apt-get update failed in ${b.builder} on network ${b.network}: ${tail}`,
      `the builder must reach the Debian archive its base image names: give ${b.network} NAT (incus network set ${b.network} ipv4.nat=true) or an apt proxy; no slot was changed`, 'RUNTIME_IMAGE_FAILED');
  }
  return new VezaError(`the runtime image of ${who} (${b.recipe.needs.join(' ')}) cannot be built: exit ${res.exitCode} in ${b.builder}: ${tail}`,
    'read the lines above (apt or a package script failed); no slot was changed', 'RUNTIME_IMAGE_FAILED');
}

export interface EnsuredImage {
  /** What to launch slots from. */
  image: string;
  /** Set when this call built it. */
  builtMs?: number;
}

/**
 * One per driver: the base image is looked up once, and each recipe is
 * obtained once, however many slots ask for it at the same time.
 */
export class RuntimeImages {
  private base?: Promise<string>;
  private readonly images = new Map<string, Promise<EnsuredImage>>();

  constructor(private readonly client: IncusClient, private readonly settings: IncusSettings, private readonly readyTimeoutMs: number) {}

  async ensure(needs: readonly string[], components: readonly string[], pool: string): Promise<EnsuredImage> {
    if (needs.length === 0) return { image: this.settings.image };
    const fingerprint = await this.baseFingerprint();
    const recipe = runtimeRecipe(fingerprint, needs, components);
    const build = buildCommands(this.client.scope, { recipe, from: launchRef(this.settings.image, fingerprint), network: this.settings.network, pool });
    let ensured = this.images.get(build.alias);
    if (!ensured) {
      ensured = this.obtain(build, recipe, components);
      this.images.set(build.alias, ensured);
      // A failure is not remembered: the next deploy tries again.
      ensured.catch(() => this.images.delete(build.alias));
    }
    return ensured;
  }

  private baseFingerprint(): Promise<string> {
    this.base ??= (async () => {
      const { image } = this.settings;
      const res = await this.client.run(cli.imageInfo(this.client.scope, image), { check: false });
      const fingerprint = res.exitCode === 0 ? parseFingerprint(res.stdout) : undefined;
      if (fingerprint) return fingerprint;
      const why = res.stderr.trim().split('\n').pop() || `no fingerprint in: ${res.stdout.slice(0, 80)}`;
      throw new VezaError(`the base image ${image} (incus.image) is not available on this Incus host: ${why}`,
        image.includes(':')
          ? `check that the remote answers (incus image info ${image}), or set incus.image in the environment file to an image this host has`
          : `import it (the test tier: bash tools/scripts/incus-setup.sh builds it), or set incus.image in the environment file to an image this host has`,
        'NO_IMAGE');
    })();
    this.base.catch(() => (this.base = undefined));
    return this.base;
  }

  private async obtain(b: BuildCommands, recipe: RuntimeRecipe, components: readonly string[]): Promise<EnsuredImage> {
    if ((await this.client.run(cli.imageInfo(this.client.scope, b.alias), { check: false })).exitCode === 0) return { image: b.alias };
    const started = Date.now();
    await this.removeLeftoverBuilder(b);
    try {
      await this.client.run(b.launch);
      await this.client.waitReady(b.builder, { timeoutMs: this.readyTimeoutMs });
      const res = await this.client.run(b.install, { check: false });
      if (res.exitCode !== 0) throw buildFailure(res, { recipe, components, image: this.settings.image, network: this.settings.network, builder: b.builder });
      await this.client.run(b.stop);
      await this.client.run(b.publish);
    } finally {
      await this.client.run(b.remove, { check: false });
    }
    return { image: b.alias, builtMs: Date.now() - started };
  }

  /** A builder left by an interrupted build is ours to delete; a container of that name that is not one is someone else's. */
  private async removeLeftoverBuilder(b: BuildCommands): Promise<void> {
    const found = await this.client.instance(b.builder);
    if (!found) return;
    if (found.config[BUILDER_LABEL] !== b.alias) {
      throw new VezaError(`refusing to build ${b.alias}: container ${b.builder} exists and is not a Veza image builder (no ${BUILDER_LABEL} label)`,
        `rename or remove it by hand (incus delete ${b.builder} --project ${this.client.project})`, 'NOT_A_SLOT');
    }
    await this.client.run(b.remove);
  }
}
