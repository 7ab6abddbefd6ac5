import { createReadStream, promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { VezaError } from '../log/errors';
import type { Registry } from './port';
import { coordsLabel, immutabilityError, validateCoords, validateSha256, type ArtifactCoords } from './coords';
import { DigestMismatchError, linkNoClobber, saveVerified, tempPathIn, unreadableSource, writeVerified } from './verified-file';
import { sha256File } from '../artifact/manifest';

/**
 * A directory with Forgejo's generic layout: the registry of the `local`
 * environment, and a stand-in anywhere Forgejo is not needed.
 *
 * Uploads are written under `<root>/.incoming/` and hard-linked into the
 * layout only once complete and verified, so even a SIGKILL mid-copy leaves
 * no partial file under `<owner>/generic/…` (owners cannot start with a dot).
 * link() rather than rename() because it refuses to replace an existing file,
 * which keeps two concurrent publishers from overwriting each other.
 */
export function createLocalRegistry(root: string): Registry {
  const pathOf = (c: ArtifactCoords) => join(root, c.owner, 'generic', c.package, c.version, c.file);
  const incoming = join(root, '.incoming');

  async function shaOf(c: ArtifactCoords): Promise<string | undefined> {
    const path = pathOf(c);
    try {
      await fs.access(path);
    } catch {
      return undefined;
    }
    return (await sha256File(path)).sha256;
  }

  function settle(c: ArtifactCoords, publishedSha: string, sha256: string): 'exists' {
    if (publishedSha !== sha256) throw immutabilityError(c, publishedSha, sha256);
    return 'exists';
  }

  return {
    kind: 'file',
    allowsLocalVersions: true,
    describe: () => `local registry ${root}`,

    async remoteSha256(c) {
      return shaOf(validateCoords(c, true));
    },

    async upload(c, localPath, sha256) {
      validateCoords(c, true);
      validateSha256(sha256, coordsLabel(c));
      const published = await shaOf(c);
      if (published) return settle(c, published, sha256);

      const dest = pathOf(c);
      await fs.mkdir(incoming, { recursive: true });
      await fs.mkdir(dirname(dest), { recursive: true });
      const tmp = tempPathIn(incoming, c.file);
      try {
        try {
          await writeVerified(createReadStream(localPath), tmp, sha256);
        } catch (e) {
          if (e instanceof DigestMismatchError) {
            throw new VezaError(`${localPath} does not hash to the sha256 given for ${coordsLabel(c)} (got ${e.actual})`, 'the file changed after packaging; package it again', 'ARTIFACT_MISMATCH');
          }
          // Errors writing the temp file carry its path; only the source's are the user's to fix.
          if ((e as NodeJS.ErrnoException).path === localPath) throw unreadableSource(localPath, e);
          throw e;
        }
        if (await linkNoClobber(tmp, dest)) return 'created';
      } finally {
        await fs.rm(tmp, { force: true });
      }
      // Another publisher placed the file between our check and our link: same rule as a prior publish.
      return settle(c, (await sha256File(dest)).sha256, sha256);
    },

    async download(c, destPath, expectedSha256) {
      validateCoords(c, true);
      validateSha256(expectedSha256, coordsLabel(c));
      const src = pathOf(c);
      try {
        await fs.access(src);
      } catch {
        throw new VezaError(`artifact ${coordsLabel(c)} is not in the local registry ${root}`, 'publish it first: npx nx run-many -t publish', 'ARTIFACT_NOT_FOUND');
      }
      await saveVerified(createReadStream(src), destPath, expectedSha256, `artifact ${coordsLabel(c)}`);
    },
  };
}
