import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { VezaError } from '../log/errors';
import type { Logger } from '../log/logger';
import { validate } from '../config/names';
import type { Workspace } from '../config/workspace';
import { formatZodIssues } from '../config/component';
import { MANIFEST_FILE, packageManifestSchema, sha256File, type PackageManifest } from '../artifact/manifest';
import { coordsLabel, validateCoords, type ArtifactCoords } from './coords';
import { createRegistry, type RegistryOptions } from './registry';

import { ARTIFACTS_DIR } from '../artifact/package-component';

export { ARTIFACTS_DIR };

export interface PublishArtifactOptions extends RegistryOptions {
  workspace: Workspace;
  /** The Nx project, which is the component name. */
  project: string;
  /** Default: local. */
  env?: string;
  log: Logger;
  /** Check everything, then say what would be uploaded instead of uploading. */
  dryRun?: boolean;
}

export interface PublishResult {
  status: 'created' | 'exists' | 'planned';
  coords: ArtifactCoords;
  registry: string;
}

/**
 * Publishes a component's packaged artifact to its environment's registry.
 * Everything that can be wrong locally — environment, manifest, the archive's
 * bytes, the version form the registry accepts, the token — is checked before
 * the first request, so a refused publish never leaves a half-done upload.
 */
export async function publishArtifact(o: PublishArtifactOptions): Promise<PublishResult> {
  const project = validate.component(o.project);
  const env = o.workspace.env(o.env);
  const root = o.workspace.root;
  const dirRel = `${ARTIFACTS_DIR}/${project}`;
  const manifest = await readManifest(root, dirRel, project);
  const registry = createRegistry(env, root, o);
  const coords = validateCoords(
    { owner: env.registry.owner, package: manifest.package, version: manifest.version, file: manifest.file },
    registry.allowsLocalVersions,
  );
  const artifactPath = join(root, dirRel, manifest.file);
  await verifyAgainstManifest(artifactPath, `${dirRel}/${manifest.file}`, manifest, project);

  const label = coordsLabel(coords);
  if (o.dryRun) {
    o.log.info(`[dry-run] would publish ${label} (${manifest.size} bytes, sha256 ${manifest.sha256}) to ${registry.describe()}`);
    return { status: 'planned', coords, registry: registry.describe() };
  }
  o.log.info(`publishing ${label} (${manifest.size} bytes) to ${registry.describe()}`);
  const status = await registry.upload(coords, artifactPath, manifest.sha256);
  o.log.info(status === 'created' ? `published ${label}` : `${label} is already published with identical content; nothing to do`);
  return { status, coords, registry: registry.describe() };
}

/** The package executor's manifest (artifact/manifest.ts is the contract), with errors that say which command fixes them. */
async function readManifest(workspaceRoot: string, dirRel: string, project: string): Promise<PackageManifest> {
  const rel = `${dirRel}/${MANIFEST_FILE}`;
  const again = `package it again: npx nx run ${project}:package`;
  let text: string;
  try {
    text = await fs.readFile(join(workspaceRoot, rel), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new VezaError(`no artifact manifest at ${rel}`, `build and package first: npx nx run ${project}:package`, 'MISSING_ARTIFACT');
    }
    throw new VezaError(`cannot read ${rel}: ${(e as Error).message}`, again, 'MISSING_ARTIFACT');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new VezaError(`${rel} is not valid JSON`, again, 'BAD_ARTIFACT');
  }
  const parsed = packageManifestSchema.safeParse(json);
  if (!parsed.success) throw new VezaError(formatZodIssues(rel, parsed.error), again, 'BAD_ARTIFACT');
  if (parsed.data.component !== project) {
    throw new VezaError(`${rel} describes component "${parsed.data.component}", not "${project}"`, again, 'BAD_ARTIFACT');
  }
  return parsed.data;
}

async function verifyAgainstManifest(path: string, rel: string, m: PackageManifest, project: string): Promise<void> {
  try {
    await fs.access(path);
  } catch {
    throw new VezaError(`artifact ${rel}, named by its manifest, is missing`, `package it again: npx nx run ${project}:package`, 'MISSING_ARTIFACT');
  }
  const actual = await sha256File(path);
  if (actual.sha256 !== m.sha256 || actual.size !== m.size) {
    throw new VezaError(
      `artifact ${rel} does not match its manifest (sha256 ${actual.sha256}, ${actual.size} bytes; manifest says ${m.sha256}, ${m.size} bytes)`,
      `the archive changed after packaging; package it again: npx nx run ${project}:package`,
      'ARTIFACT_MISMATCH',
    );
  }
}
