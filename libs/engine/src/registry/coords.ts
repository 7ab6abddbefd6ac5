import { VezaError } from '../log/errors';
import { PATTERNS, validate } from '../config/names';
import { SHA256 } from '../artifact/manifest';

/** Where one artifact file lives in a registry: `{owner}/generic/{package}/{version}/{file}`. */
export interface ArtifactCoords {
  owner: string;
  package: string;
  version: string;
  file: string;
}

/** Forgejo's own file-name charset, minus a leading dot so a name can never be `..` or hidden. */
const FILE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$/;

/** Every segment ends up in a URL path and a file path, so each is checked before either is built. */
export function validateCoords(c: ArtifactCoords, allowLocalVersions: boolean): ArtifactCoords {
  validate.owner(c.owner);
  if (typeof c.package !== 'string' || !PATTERNS.component.test(c.package)) {
    throw new VezaError(`invalid package name ${JSON.stringify(c.package)}`, 'package names are lower-case [a-z][a-z0-9-]*, e.g. veza-api', 'INVALID_INPUT');
  }
  validate.version(c.version, allowLocalVersions);
  if (typeof c.file !== 'string' || !FILE.test(c.file)) {
    throw new VezaError(`invalid artifact file name ${JSON.stringify(c.file)}`, 'use letters, digits, ".", "_", "+" and "-" only, e.g. veza-api.tar.zst', 'INVALID_INPUT');
  }
  return c;
}

export function validateSha256(value: unknown, what: string): string {
  if (typeof value !== 'string' || !SHA256.test(value)) {
    throw new VezaError(`invalid sha256 for ${what}: ${JSON.stringify(value)}`, 'a sha256 is 64 lower-case hex characters (sha256sum prints it)', 'INVALID_INPUT');
  }
  return value;
}

export function coordsLabel(c: ArtifactCoords): string {
  return `${c.owner}/${c.package}@${c.version}/${c.file}`;
}

export function immutabilityError(c: ArtifactCoords, publishedSha256: string, localSha256: string): VezaError {
  return new VezaError(
    `artifact ${coordsLabel(c)} is already published with different content (registry sha256 ${publishedSha256}, local ${localSha256}); artifacts are immutable`,
    'bump the version/commit and package again; a published artifact is never overwritten',
    'ARTIFACT_IMMUTABLE',
  );
}
