import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { z } from 'zod';
import { VezaError } from '../log/errors';
import { PATTERNS } from '../config/names';
import { formatZodIssues } from '../config/component';

/**
 * The package manifest written beside each artifact
 * (`dist/artifacts/<project>/manifest.json`): what publish uploads and what
 * the release manifest quotes for every component.
 */
export const SHA256 = /^[0-9a-f]{64}$/;

/** A release sha, or `local-<12 hex>` for an uncommitted local build (publish decides where that may go). */
const versionSchema = z.string().refine((v) => PATTERNS.sha.test(v) || PATTERNS.localVersion.test(v), 'must be a 40-hex git sha or local-<12 hex>');

export const packageManifestSchema = z.strictObject({
  component: z.string().regex(PATTERNS.component),
  package: z.string().regex(PATTERNS.component),
  version: versionSchema,
  file: z.string(),
  sha256: z.string().regex(SHA256),
  size: z.number().int().nonnegative(),
  fileCount: z.number().int().nonnegative(),
}).refine((m) => m.file === artifactFileName(m.package, m.version), { path: ['file'], message: 'must be <package>-<version>.tar.zst' });

export type PackageManifest = z.infer<typeof packageManifestSchema>;

export const MANIFEST_FILE = 'manifest.json';

export function artifactFileName(pkg: string, version: string): string {
  return `${pkg}-${version}.tar.zst`;
}

export async function loadPackageManifest(path: string): Promise<PackageManifest> {
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.readFile(path, 'utf8'));
  } catch (e) {
    throw new VezaError(`cannot read ${path}: ${(e as Error).message}`, 'run the package target first', 'BAD_PACKAGE_MANIFEST');
  }
  const parsed = packageManifestSchema.safeParse(raw);
  if (!parsed.success) throw new VezaError(formatZodIssues(path, parsed.error), 'package the component again', 'BAD_PACKAGE_MANIFEST');
  return parsed.data;
}

/** sha256 and size of a file, streamed. */
export async function sha256File(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } catch (e) {
    throw new VezaError(`cannot read ${path}: ${(e as Error).message}`, 'check that the artifact exists and is readable', 'ARTIFACT_UNREADABLE');
  }
  return { sha256: hash.digest('hex'), size };
}
