import { lstatSync, readdirSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { VezaError } from '../log/errors';
import { symlinkEscape } from './links';

/**
 * The entries a source directory contributes to an artifact, in archive
 * order, with modes already normalised: everything the packer needs to
 * write headers, and nothing (times, owners, inode order) that would make
 * two packs of the same content differ.
 */
export interface TreeEntry {
  /** Archive name: relative, '/'-separated; directories end with '/'. */
  name: string;
  /** Path relative to the root, without the trailing '/'. */
  rel: string;
  kind: 'file' | 'dir' | 'symlink';
  mode: number;
  size: number;
  target?: string;
}

export function normalisedMode(kind: TreeEntry['kind'], mode: number): number {
  if (kind === 'dir') return 0o755;
  if (kind === 'symlink') return 0o777;
  return mode & 0o111 ? 0o755 : 0o644;
}

const unreadable = (path: string, e: unknown) =>
  new VezaError(`cannot read ${path}: ${(e as Error).message}`, 'check that the build output exists and is readable (run the build first)', 'PACK_SOURCE_UNREADABLE');

/**
 * Synchronous on purpose: the listing is a burst of tiny metadata calls that
 * must finish before the first chunk can compress, and a libuv pool round trip
 * per call costs more than the syscall itself (bench/pack-bench.ts tree, 1 300
 * entries: 28–75 ms listed through the pool, 12–24 ms for the walk this way).
 */
export async function listTree(root: string): Promise<TreeEntry[]> {
  let st: Stats;
  try {
    st = statSync(root);
  } catch (e) {
    throw unreadable(root, e);
  }
  if (!st.isDirectory()) {
    throw new VezaError(`${root} is not a directory`, 'pass the folder whose content becomes the artifact', 'PACK_SOURCE_UNREADABLE');
  }
  const out: TreeEntry[] = [];
  walk(root, '', out);
  const symlinks = new Map(out.filter((e) => e.kind === 'symlink').map((e) => [e.rel, e.target!]));
  for (const [link, target] of symlinks) {
    const why = symlinkEscape(link, symlinks);
    if (why) {
      throw new VezaError(`${join(root, link)} -> ${target} cannot be packed: ${why}`,
        'make the link relative and pointing inside the artifact, or copy the file instead', 'PACK_LINK_ESCAPES');
    }
  }
  // Byte order of the UTF-8 names: independent of locale and of readdir order.
  const keyed = out.map((e) => ({ e, key: Buffer.from(e.name, 'utf8') }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  return keyed.map((k) => k.e);
}

function walk(root: string, rel: string, out: TreeEntry[]): void {
  const dir = rel ? join(root, rel) : root;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw unreadable(dir, e);
  }
  for (const n of names) {
    const childRel = rel ? `${rel}/${n}` : n;
    const abs = join(root, childRel);
    let st: Stats;
    let target: string | undefined;
    try {
      st = lstatSync(abs);
      if (st.isSymbolicLink()) target = readlinkSync(abs);
    } catch (e) {
      throw unreadable(abs, e);
    }
    if (st.isDirectory()) {
      out.push({ name: `${childRel}/`, rel: childRel, kind: 'dir', mode: normalisedMode('dir', st.mode), size: 0 });
      walk(root, childRel, out);
    } else if (st.isFile()) {
      out.push({ name: childRel, rel: childRel, kind: 'file', mode: normalisedMode('file', st.mode), size: st.size });
    } else if (st.isSymbolicLink()) {
      out.push({ name: childRel, rel: childRel, kind: 'symlink', mode: normalisedMode('symlink', st.mode), size: 0, target });
    } else {
      throw new VezaError(`${abs} is a socket, fifo or device`, 'an artifact holds only files, directories and symlinks; remove it from the build output', 'PACK_UNSUPPORTED_FILE');
    }
  }
}
