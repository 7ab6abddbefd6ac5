import { resolveBuildVersion } from '../build/version';
import { runtimeDeclaration } from '../config/component';
import type { Environment } from '../config/environment';
import type { Workspace } from '../config/workspace';
import { validate } from '../config/names';
import { VezaError } from '../log/errors';
import type { Logger } from '../log/logger';
import { createProcessRunner, type ProcessRunner } from '../ports/process';
import { coordsLabel, immutabilityError } from '../registry/coords';
import type { Registry } from '../registry/port';
import { createRegistry } from '../registry/registry';
import { buildReleaseManifest, type PackagedComponent, type ReleaseManifest } from '../release/manifest';
import { assembleRelease, coordsOf, findPublishedRelease, publishRelease, releaseTime, type Release } from './release';

/**
 * CI's build job (seed 000: build jobs pack and PUT, the deploy job only
 * fetches by sha): publish the release manifest of `sha` so the deploy
 * runner has nothing to build. The registry is the reuse cache: a component
 * whose inputs did not change since the nearest earlier release published in
 * this registry points at that release's artifact, however old; only the
 * others are built (by `build`) and published. A release already published
 * builds nothing, so a second run of the same commit costs a lookup.
 */
export interface CiReleaseOptions {
  workspace: Workspace;
  env: string;
  /** Default: what the workspace builds. */
  sha?: string;
  /** Per component, the git pathspecs whose change since a release means its artifact must be built again. */
  inputPaths: Record<string, string[]>;
  /** Tests, builds, packages and publishes these components; `secrets` are the variables no component code may see. */
  build: (components: string[], secrets: string[]) => Promise<void>;
  log: Logger;
  processEnv?: NodeJS.ProcessEnv;
  runner?: ProcessRunner;
}

export interface CiReleaseResult {
  release: Release;
  status: 'created' | 'exists';
  built: string[];
  /** Component → the earlier release whose artifact it keeps. */
  reused: Record<string, string>;
}

/** First-parent commits searched for the previous release: more than a busy week of merges to main. */
export const PREVIOUS_RELEASE_LOOKBACK = 200;

export async function publishCiRelease(o: CiReleaseOptions): Promise<CiReleaseResult> {
  const processEnv = o.processEnv ?? process.env;
  const runner = o.runner ?? createProcessRunner();
  const root = o.workspace.root;
  const env = o.workspace.env(o.env);
  const { components } = o.workspace;
  const registry = createRegistry(env, root, { processEnv, log: o.log });
  const owner = env.registry.owner;
  const workspace = await resolveBuildVersion(root, processEnv, runner);
  const sha = validate.version(o.sha ?? workspace, registry.allowsLocalVersions);
  const command = releaseCommand(env.name, sha);
  if (workspace !== sha) {
    throw new VezaError(`this workspace builds ${workspace}, not release ${sha}, so what it builds could not be part of ${sha}`,
      `check out ${sha} (with its history: fetch-depth 0) and run ${command} again`, 'INVALID_INPUT');
  }
  const existing = await findPublishedRelease(registry, owner, sha);
  if (existing) {
    o.log.info(`release ${sha} is already published in ${registry.describe()}: nothing to build`);
    return { release: existing, status: 'exists', built: [], reused: {} };
  }

  const previous = await findPreviousRelease(registry, owner, sha, root, runner);
  const entries: Record<string, PackagedComponent> = {};
  const reused: Record<string, string> = {};
  const toBuild: string[] = [];
  const mustBuild = async (name: string): Promise<string | undefined> => {
    if (!previous) return 'no earlier release is published';
    const entry = previous.manifest.components[name];
    if (!entry) return `release ${previous.manifest.sha} does not have it`;
    if (await changedSince(previous.manifest.sha, sha, o.inputPaths[name], root, runner)) return `its inputs changed since ${previous.manifest.sha}`;
    if ((await registry.remoteSha256(coordsOf(entry))) === undefined) return `${coordsLabel(coordsOf(entry))} of release ${previous.manifest.sha} is gone from the registry`;
    return undefined;
  };
  for (const c of components) {
    const why = await mustBuild(c.name);
    if (why === undefined) {
      const entry = previous!.manifest.components[c.name]!;
      // The artifact is the earlier release's; how it runs and is routed is this commit's declaration.
      entries[c.name] = { component: c.name, ...entry, declaration: runtimeDeclaration(c) };
      reused[c.name] = previous!.manifest.sha;
      o.log.info(`${c.name}: unchanged since ${previous!.manifest.sha}, keeps ${coordsLabel(coordsOf(entry))}`);
    } else {
      toBuild.push(c.name);
      o.log.info(`${c.name}: to build (${why})`);
    }
  }

  if (toBuild.length) {
    await o.build(toBuild, secretNames(env));
    const built = await assembleRelease(root, sha, components.filter((c) => toBuild.includes(c.name)),
      { owner, allowLocalVersions: registry.allowsLocalVersions, createdAt: new Date() });
    for (const [name, e] of Object.entries(built.components)) entries[name] = { component: name, ...e };
  }

  const manifest = buildReleaseManifest(sha, components.map((c) => entries[c.name]!), { owner, createdAt: await releaseTime(root, sha, runner) });
  await checkArtifactsPublished(registry, manifest, env.name, command);
  const { release, status } = await publishRelease(registry, owner, manifest);
  o.log.info(`release ${sha} ${status === 'created' ? 'published' : 'was already published'}: ${coordsLabel(release.ref)} (built ${toBuild.join(', ') || 'nothing'})`);
  return { release, status, built: toBuild, reused };
}

export function releaseCommand(env: string, sha: string): string {
  return `npx nx run infra-deploy:release --env=${env} --sha=${sha}`;
}

/** The nearest first-parent ancestor of `sha` whose release this registry holds. */
async function findPreviousRelease(registry: Registry, owner: string, sha: string, cwd: string, runner: ProcessRunner): Promise<Release | undefined> {
  const log = await runner.run({ argv: ['git', 'rev-list', '--first-parent', `--max-count=${PREVIOUS_RELEASE_LOOKBACK}`, `${sha}^{commit}`], cwd, description: 'list the commits before the release' }, { check: false });
  if (log.exitCode !== 0) {
    throw new VezaError(`git cannot list the history of ${sha}: ${log.stderr.trim().split('\n')[0] ?? ''}`,
      'check out the repository with its history (actions/checkout with fetch-depth: 0), then run the release again', 'INVALID_INPUT');
  }
  for (const commit of log.stdout.split('\n').slice(1).filter(Boolean)) {
    const found = await findPublishedRelease(registry, owner, commit);
    if (found) return found;
  }
  return undefined;
}

async function changedSince(from: string, to: string, paths: string[] | undefined, cwd: string, runner: ProcessRunner): Promise<boolean> {
  // No known inputs: nothing proves the artifact is still right.
  if (!paths?.length) return true;
  const diff = await runner.run({ argv: ['git', 'diff', '--quiet', from, to, '--', ...paths], cwd, description: 'did the component\'s inputs change' }, { check: false });
  if (diff.exitCode > 1) {
    throw new VezaError(`git cannot compare ${from} with ${to}: ${diff.stderr.trim().split('\n')[0] ?? ''}`,
      'check out the repository with its history (fetch-depth: 0), then run the release again', 'INVALID_INPUT');
  }
  return diff.exitCode === 1;
}

/** The deploy would fail on a missing artifact after its checks began; a release is refused before it exists instead. */
async function checkArtifactsPublished(registry: Registry, m: ReleaseManifest, env: string, command: string): Promise<void> {
  for (const [name, c] of Object.entries(m.components)) {
    const remote = await registry.remoteSha256(coordsOf(c));
    if (remote === undefined) {
      throw new VezaError(`release ${m.sha} would point ${name} at ${coordsLabel(coordsOf(c))}, which ${registry.describe()} does not hold; the release was not published`,
        `publish it (npx nx run ${name}:publish --env=${env}), then run ${command} again`, 'ARTIFACT_NOT_FOUND');
    }
    if (remote !== c.sha256) throw immutabilityError(coordsOf(c), remote, c.sha256);
  }
}

function secretNames(env: Environment): string[] {
  const d = env.data;
  const names = [env.registry.tokenEnv, d.postgres.passwordEnv, d.redis?.passwordEnv, d.rabbitmq?.passwordEnv, d.minio?.passwordEnv];
  return names.filter((n): n is string => n !== undefined);
}
