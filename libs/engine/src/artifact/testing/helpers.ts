import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { compress } from '@mongodb-js/zstd';
import { Header, type HeaderData } from 'tar';

/** A temp directory removed when the test ends, pass or fail. */
export async function tempDir(t: TestContext, prefix = 'veza-artifact-'): Promise<string> {
  const dir = await fs.mkdtemp(join(tmpdir(), prefix));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

export type TreeSpec = Record<string, string | Buffer | { symlink: string } | { dir: true }>;

export async function writeTree(root: string, spec: TreeSpec): Promise<void> {
  for (const [rel, v] of Object.entries(spec)) {
    const abs = join(root, rel);
    if (typeof v === 'object' && 'dir' in v) {
      await fs.mkdir(abs, { recursive: true });
      continue;
    }
    await fs.mkdir(join(abs, '..'), { recursive: true });
    if (typeof v === 'object' && 'symlink' in v) await fs.symlink(v.symlink, abs);
    else await fs.writeFile(abs, v);
  }
}

/** Everything an artifact promises to keep: path, kind, mode, content or link target. */
export async function snapshot(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await fs.readdir(join(root, rel))).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const abs = join(root, r);
    const st = await fs.lstat(abs);
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isSymbolicLink()) out.push(`${r} symlink -> ${await fs.readlink(abs)}`);
    else if (st.isDirectory()) out.push(`${r}/ dir ${mode}`, ...(await snapshot(root, r)));
    else out.push(`${r} file ${mode} ${createHash('sha256').update(await fs.readFile(abs)).digest('hex')}`);
  }
  return out;
}

export interface RawEntry {
  path: string;
  type?: HeaderData['type'];
  linkpath?: string;
  body?: string;
  mode?: number;
}

/**
 * A hand-made tar written with node-tar's header encoder (not ours), so the
 * unpack tests feed it what a hostile or foreign producer could.
 */
export function craftTar(entries: RawEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const h = new Header({
      path: e.path,
      type: e.type ?? 'File',
      linkpath: e.linkpath,
      size: body.length,
      mode: e.mode ?? 0o644,
      uid: 0,
      gid: 0,
      mtime: new Date(0),
    });
    const block = Buffer.alloc(512);
    h.encode(block, 0);
    blocks.push(block, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

export async function craftArchive(entries: RawEntry[]): Promise<Buffer> {
  return compress(craftTar(entries), 3);
}

export function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}
