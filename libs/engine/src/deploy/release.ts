import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runtimeDeclaration, type ComponentDeclaration, type RuntimeDeclaration } from '../config/component';
import { validate } from '../config/names';
import { MANIFEST_FILE, loadPackageManifest } from '../artifact/manifest';
import { VezaError } from '../log/errors';
import type { ProcessRunner } from '../ports/process';
import { coordsLabel, type ArtifactCoords } from '../registry/coords';
import { ARTIFACTS_DIR } from '../registry/publish-artifact';
import type { Registry } from '../registry/port';
import {
  buildReleaseManifest, parseReleaseManifest, releaseManifestCoords, releaseManifestRef, serializeReleaseManifest,
  type ReleaseManifest, type ReleaseManifestRef,
} from '../release/manifest';

/**
 * The release a deploy places: assembled from the packaged artifacts
 * (dist/artifacts/<component>/manifest.json), published beside them as
 * veza-release/<sha>/release.json, or fetched back from the registry for a
 * rollback or an explicit --sha that is already published.
 */
export interface Release {
  manifest: ReleaseManifest;
  ref: ReleaseManifestRef;
}

/** Every deployable component's packaged artifact, as the package target left it. */
export async function assembleRelease(
  workspaceRoot: string,
  sha: string,
  components: ComponentDeclaration[],
  opts: { owner: string; allowLocalVersions: boolean; createdAt: Date },
): Promise<ReleaseManifest> {
  const packaged = [];
  for (const c of components) {
    const rel = `${ARTIFACTS_DIR}/${c.name}/${MANIFEST_FILE}`;
    try {
      await fs.access(join(workspaceRoot, rel));
    } catch {
      throw new VezaError(`component ${c.name} has no packaged artifact (${rel})`, `package and publish it: npx nx run ${c.name}:publish (infra-deploy:deploy does this first)`, 'MISSING_ARTIFACT');
    }
    const m = await loadPackageManifest(join(workspaceRoot, rel));
    if (m.component !== c.name) throw new VezaError(`${rel} describes ${m.component}, not ${c.name}`, `package it again: npx nx run ${c.name}:package`, 'BAD_ARTIFACT');
    try {
      validate.version(m.version, opts.allowLocalVersions);
    } catch {
      throw new VezaError(`${c.name} was built from an uncommitted tree (version ${m.version}), which this environment's registry does not accept`,
        'commit your changes and deploy again, so every artifact carries a commit sha', 'DIRTY_RELEASE');
    }
    packaged.push({ ...m, declaration: runtimeDeclaration(c) });
  }
  return buildReleaseManifest(sha, packaged, { owner: opts.owner, createdAt: opts.createdAt });
}

/**
 * The release already published for the manifest's sha, when there is one:
 * identical bytes, or other bytes (say, another createdAt) naming the same
 * artifacts, which is the same release. One naming other artifacts is
 * refused: releases are immutable. Reads only, so the deploy asks it before
 * its first side effect.
 */
export async function publishedAs(registry: Registry, owner: string, manifest: ReleaseManifest): Promise<Release | undefined> {
  const ref = releaseManifestRef(owner, manifest);
  const coords = releaseManifestCoords(owner, manifest.sha);
  const remote = await registry.remoteSha256(coords);
  if (remote === undefined) return undefined;
  if (remote === ref.sha256) return { manifest, ref };
  const published = await fetchRelease(registry, owner, manifest.sha, remote);
  if (sameArtifacts(published.manifest, manifest)) return published;
  throw new VezaError(
    `release ${manifest.sha} is already published (${coordsLabel(coords)}) with other artifacts than the ones packaged now`,
    'a release never changes; commit and deploy a new sha, or deploy the published one with --sha',
    'RELEASE_IMMUTABLE',
  );
}

/** Publishes the manifest unless publishedAs finds it there already. */
export async function publishRelease(registry: Registry, owner: string, manifest: ReleaseManifest): Promise<{ release: Release; status: 'created' | 'exists' }> {
  const existing = await publishedAs(registry, owner, manifest);
  if (existing) return { release: existing, status: 'exists' };
  const ref = releaseManifestRef(owner, manifest);
  const status = await withTempFile(serializeReleaseManifest(manifest), (path) => registry.upload(releaseManifestCoords(owner, manifest.sha), path, ref.sha256));
  return { release: { manifest, ref }, status };
}

/** Downloads and verifies a published manifest; `sha256` comes from the history (or the registry, for an explicit --sha). */
export async function fetchRelease(registry: Registry, owner: string, sha: string, sha256: string): Promise<Release> {
  const coords = releaseManifestCoords(owner, sha);
  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-release-'));
  try {
    const path = join(dir, 'release.json');
    await registry.download(coords, path, sha256);
    const manifest = parseReleaseManifest(await fs.readFile(path, 'utf8'), coordsLabel(coords), sha);
    return { manifest, ref: { ...coords, sha256 } };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The published manifest of `sha`, or undefined when the registry has none. */
export async function findPublishedRelease(registry: Registry, owner: string, sha: string): Promise<Release | undefined> {
  const remote = await registry.remoteSha256(releaseManifestCoords(owner, sha));
  return remote === undefined ? undefined : fetchRelease(registry, owner, sha, remote);
}

function sameArtifacts(a: ReleaseManifest, b: ReleaseManifest): boolean {
  const key = (m: ReleaseManifest) => JSON.stringify(Object.entries(m.components).sort(([x], [y]) => x.localeCompare(y)));
  return a.sha === b.sha && key(a) === key(b);
}

/** A commit's own time, so re-deploying (or promoting) a release publishes identical bytes; now, for an uncommitted build. */
export async function releaseTime(workspaceRoot: string, sha: string, runner: ProcessRunner): Promise<Date> {
  if (!/^[0-9a-f]{40}$/.test(sha)) return new Date();
  const res = await runner
    .run({ argv: ['git', 'show', '-s', '--format=%cI', `${sha}^{commit}`], cwd: workspaceRoot, description: 'read the release commit time' }, { check: false })
    .catch(() => undefined);
  const t = res && res.exitCode === 0 ? new Date(res.stdout.trim()) : undefined;
  return t && !Number.isNaN(t.getTime()) ? t : new Date();
}

/**
 * How each component of the release runs: as its manifest recorded it, or —
 * for a manifest published before declarations were recorded — as the
 * workspace declares it (the only knowledge there is).
 */
export function releaseDeclarations(manifest: ReleaseManifest, workspace: readonly RuntimeDeclaration[]): RuntimeDeclaration[] {
  return Object.entries(manifest.components)
    .map(([name, c]) => c.declaration ?? workspace.find((w) => w.name === name))
    .filter((d): d is RuntimeDeclaration => d !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function coordsOf(c: ReleaseManifest['components'][string]): ArtifactCoords {
  return { owner: c.owner, package: c.package, version: c.version, file: c.file };
}

async function withTempFile<T>(text: string, fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-release-'));
  try {
    const path = join(dir, 'release.json');
    await fs.writeFile(path, text);
    return await fn(path);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
