import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unpackArtifact } from '../artifact/unpack';
import { checkComponentSet } from '../config/component';
import { buildEdgeModel, loadEdgeInputs } from '../edge/model';
import { VezaError, isVezaError } from '../log/errors';
import { ARTIFACTS_DIR } from '../registry/publish-artifact';
import { coordsLabel } from '../registry/coords';
import { artifactCacheDir, cachedAndIntact, type VerifiedArtifact } from './artifacts';
import type { Context } from './context';
import { findHooks, type FoundHooks } from './hooks';
import { assembleRelease, coordsOf, publishedAs, releaseDeclarations, releaseTime, type Release } from './release';
import { needsPipelineVars } from './slots';
import { checkLocalNeeds } from '../hosts/local/needs';
import { releaseManifestRef } from '../release/manifest';

/**
 * Everything a deploy or a full rollback checks before its first side
 * effect — before the lock, the audit line, the registry, the data tier, the
 * edge or any slot: the release manifest, every artifact's bytes (sha256)
 * and entries (walked by the very policy unpack applies, so a link out of
 * the slot or a device is refused here and not in phase C), on local the
 * Debian packages the components need (`run.needs`), that a
 * published release with this sha names the same artifacts, the edge model
 * of the environment's edge, and what the data tier would refuse. Reads
 * only; artifacts not in the deployer's cache are downloaded into a temp
 * folder outside the workspace, which the cache takes over once the lock is
 * held. A refused request leaves every file of the workspace as it was.
 */
export type ReleaseSource = { sha: string; kind: 'workspace' } | { sha: string; kind: 'published'; release: Release };

export interface CheckedRelease {
  sha: string;
  /** workspace: assembled from dist/artifacts, published by the deploy once it holds the lock. */
  kind: ReleaseSource['kind'];
  release: Release;
  /** The artifacts' files in dist/, to upload (workspace releases only). */
  packaged: Readonly<Record<string, string>>;
  verified: Readonly<Record<string, VerifiedArtifact>>;
  /** infra/hooks/<event> executables, each checked to be one. */
  hooks: FoundHooks;
  /** Removes the temp folder; what the cache took over is gone from it already. */
  dispose(): Promise<void>;
}

export async function checkRelease(ctx: Context, source: ReleaseSource, step: (line: string) => void): Promise<CheckedRelease> {
  const staging = await fs.mkdtemp(join(tmpdir(), 'veza-check-'));
  const dispose = () => fs.rm(staging, { recursive: true, force: true });
  try {
    const release = source.kind === 'published' ? source.release : await workspaceRelease(ctx, source.sha);
    const packaged: Record<string, string> = {};
    const verified: Record<string, VerifiedArtifact> = {};
    for (const [component, c] of Object.entries(release.manifest.components).sort(([a], [b]) => a.localeCompare(b))) {
      if (!c.declaration && !ctx.components.some((d) => d.name === component)) {
        throw new VezaError(`release ${release.manifest.sha} holds ${component}, which this workspace does not declare (apps/${component}/component.json)`,
          'deploy from a checkout of that release, whose apps/ declare every component it holds', 'BAD_RELEASE');
      }
      const v = await releaseArtifact(ctx, source.kind, staging, component, c);
      if (source.kind === 'workspace') {
        packaged[component] = v.path;
        await checkRegistryCopy(ctx, c);
      }
      await checkEntries(component, coordsLabel(coordsOf(c)), v, staging);
      verified[component] = v;
      step(`${component}: ${coordsLabel(coordsOf(c))}, sha256 and every entry checked`);
    }
    const declarations = releaseDeclarations(release.manifest, ctx.components);
    if (ctx.env.driver === 'local') await checkLocalNeeds(declarations, ctx.runner);
    // The release's declarations as one set (ports, routes, backends), served on both colours: what the switch will render.
    checkComponentSet(declarations);
    buildEdgeModel(loadEdgeInputs(ctx.workspace, ctx.env.edge), {}, { [ctx.env.name]: { blue: declarations, green: declarations } });
    if (needsPipelineVars(declarations)) await ctx.ports.tier.preflight();
    const hooks = await findHooks(ctx.root);
    return { sha: release.manifest.sha, kind: source.kind, release, packaged, verified, hooks, dispose };
  } catch (e) {
    await dispose();
    throw e;
  }
}

/** The manifest this workspace's packaged artifacts make, or the published one naming the same artifacts. */
export async function workspaceRelease(ctx: Context, sha: string): Promise<Release> {
  const registry = ctx.ports.registry();
  const owner = ctx.env.registry.owner;
  const manifest = await assembleRelease(ctx.root, sha, ctx.components, {
    owner,
    allowLocalVersions: registry.allowsLocalVersions,
    createdAt: await releaseTime(ctx.root, sha, ctx.runner),
  });
  return (await publishedAs(registry, owner, manifest)) ?? { manifest, ref: releaseManifestRef(owner, manifest) };
}

/**
 * Where a release's artifact is read: a workspace release's own package in
 * dist/, or a published one's bytes (see locatePublished).
 */
export async function releaseArtifact(ctx: Context, kind: ReleaseSource['kind'], staging: string, component: string, c: Release['manifest']['components'][string]): Promise<VerifiedArtifact> {
  return kind === 'workspace' ? { path: join(ctx.root, ARTIFACTS_DIR, component, c.file), sha256: c.sha256, owned: false } : locatePublished(ctx, staging, c);
}

/** A published artifact: from the deployer's cache when its bytes are intact there, else downloaded (verified) into `staging`. */
async function locatePublished(ctx: Context, staging: string, c: Release['manifest']['components'][string]): Promise<VerifiedArtifact> {
  const cached = join(artifactCacheDir(ctx.root, ctx.env.name), `${c.sha256}.tar.zst`);
  if (await cachedAndIntact(cached, c.sha256)) return { path: cached, sha256: c.sha256, owned: false };
  const path = join(staging, `${c.sha256}.tar.zst`);
  await ctx.ports.registry().download(coordsOf(c), path, c.sha256);
  return { path, sha256: c.sha256, owned: true };
}

/** The deploy uploads a packaged artifact; other bytes under its coordinates would refuse it after the lock, so refuse now. */
async function checkRegistryCopy(ctx: Context, c: Release['manifest']['components'][string]): Promise<void> {
  const registry = ctx.ports.registry();
  const remote = await registry.remoteSha256(coordsOf(c));
  if (remote !== undefined && remote !== c.sha256) {
    throw new VezaError(`artifact ${coordsLabel(coordsOf(c))} is already in ${registry.describe()} with other bytes (sha256 ${remote}, packaged ${c.sha256})`,
      'artifacts are immutable: find out who published the other bytes; build a new commit to deploy, or deploy the published release with --sha', 'ARTIFACT_IMMUTABLE');
  }
}

async function checkEntries(component: string, label: string, v: VerifiedArtifact, staging: string): Promise<void> {
  const dest = join(staging, `entries-of-${component}`);
  try {
    await unpackArtifact({ file: v.path, sha256: v.sha256, dest });
  } catch (e) {
    const why = isVezaError(e) ? e.message : (e as Error).message;
    throw new VezaError(`the artifact of ${component} (${label}) is refused before anything changes: ${why}`,
      isVezaError(e) ? e.hint : 'rebuild and republish it', isVezaError(e) ? e.code : 'ARTIFACT_UNSAFE');
  } finally {
    await fs.rm(dest, { recursive: true, force: true });
  }
}
