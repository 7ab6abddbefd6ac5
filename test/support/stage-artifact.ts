import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { packDirectory } from '@veza/engine/artifact/pack';
import { artifactFileName, MANIFEST_FILE, type PackageManifest } from '@veza/engine/artifact/manifest';

/**
 * What the `package` target leaves in dist/artifacts/<component>, made from
 * the given files instead of a build: the test workspaces' stand-in for a
 * real component at release `sha`. The sources go to dist/src/<component>/<sha>.
 * A file given as `{ executable }` is a built binary, written mode 0755.
 */
export async function stageArtifact(root: string, component: string, sha: string, files: Record<string, string | { executable: Buffer }>): Promise<void> {
  const src = join(root, 'dist', 'src', component, sha);
  await fs.rm(src, { recursive: true, force: true });
  for (const [rel, content] of Object.entries(files)) {
    if (typeof content === 'string') await writeText(src, rel, content);
    else await writeText(src, rel, content.executable, 0o755);
  }
  const dir = join(root, 'dist', 'artifacts', component);
  await fs.rm(dir, { recursive: true, force: true });
  const file = artifactFileName(component, sha);
  const packed = await packDirectory(src, join(dir, file));
  const manifest: PackageManifest = { component, package: component, version: sha, file, sha256: packed.sha256, size: packed.size, fileCount: packed.fileCount };
  await writeText(dir, MANIFEST_FILE, JSON.stringify(manifest, null, 2) + '\n');
}

export async function writeText(dir: string, rel: string, text: string | Buffer, mode?: number): Promise<void> {
  const path = join(dir, rel);
  await fs.mkdir(dirname(path), { recursive: true });
  await fs.writeFile(path, text, mode === undefined ? {} : { mode });
}
