import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { readBuildOutput } from '../build/output';
import { loadComponent } from '../config/component';
import { writeJsonAtomic } from '../util/atomic';
import { MANIFEST_FILE, artifactFileName, type PackageManifest } from './manifest';
import { undeclaredOsNeeds } from './os-needs';
import { packDirectory, type PackOptions } from './pack';

/**
 * The package step: a finished build (`dist/build/<project>/`, read through
 * the build's own contract) in; `dist/artifacts/<project>/<package>-<version>.tar.zst`
 * and its manifest out. The output folder is emptied first so it never
 * holds an artifact of another version next to the manifest.
 */
export const ARTIFACTS_DIR = join('dist', 'artifacts');

export interface PackageComponentOptions {
  workspaceRoot: string;
  project: string;
  pack?: PackOptions;
  /** Where the package-time warnings go (undeclaredOsNeeds); without it they are not looked for. */
  warn?: (line: string) => void;
}

export async function packageComponent(o: PackageComponentOptions): Promise<PackageManifest> {
  const { record, rootDir } = await readBuildOutput(o.workspaceRoot, o.project);
  const outDir = join(o.workspaceRoot, ARTIFACTS_DIR, o.project);
  await fs.rm(outDir, { recursive: true, force: true });
  await fs.mkdir(outDir, { recursive: true });
  const file = artifactFileName(record.package, record.version);
  const packed = await packDirectory(rootDir, join(outDir, file), o.pack);
  const manifest: PackageManifest = {
    component: record.component,
    package: record.package,
    version: record.version,
    file,
    sha256: packed.sha256,
    size: packed.size,
    fileCount: packed.fileCount,
  };
  await writeJsonAtomic(join(outDir, MANIFEST_FILE), manifest);
  if (o.warn) for (const w of await undeclaredOsNeeds(rootDir, await loadComponent(join(o.workspaceRoot, 'apps', o.project)))) o.warn(w);
  return manifest;
}
