import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Every file, directory and link under `dir` with its type, mode and
 * content hash: two snapshots are equal only if nothing was created,
 * removed, rewritten or re-permissioned. Unix sockets count by name only,
 * and so do paths `opaque` names: files a running server rewrites on its own.
 */
export async function snapshotTree(dir: string, opaque: (rel: string) => boolean = () => false): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, e.name);
      const rel = relative(dir, p);
      if (opaque(rel)) {
        out[rel] = 'opaque';
        continue;
      }
      const st = await fs.lstat(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (e.isDirectory()) {
        out[rel] = `dir ${mode}`;
        await walk(p);
      } else if (e.isSymbolicLink()) {
        out[rel] = `link -> ${await fs.readlink(p)}`;
      } else if (e.isFile()) {
        out[rel] = `file ${mode} ${createHash('sha256').update(await fs.readFile(p)).digest('hex')}`;
      } else {
        out[rel] = `special ${mode}`;
      }
    }
  };
  await walk(dir);
  return out;
}
