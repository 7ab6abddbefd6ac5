import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { VezaError } from '../log/errors';
import { writeAll } from './io';
import { normaliseArchivePath, symlinkEscape } from './links';
import { normalisedMode } from './tree';

/**
 * Writes tar entries under a fresh root, refusing anything that could touch
 * a path outside it. The invariants that make this safe without ever
 * resolving paths on disk:
 *  - no entry is written below a symlink or a file (checked against what
 *    this archive created, and the root starts empty), so no write follows
 *    a link;
 *  - files are created with O_EXCL, links only to files this archive wrote;
 *  - symlink targets are checked, once every entry is known, by following
 *    them through the archive's own links.
 * Modes are normalised as `veza package` writes them (no setuid, no
 * world-writable), owners and times are not restored.
 */
type Kind = 'file' | 'dir' | 'symlink';

/** One archive entry as the reader hands it over; `body` must be read before the next entry is asked for. */
export interface TarEntry {
  path: string;
  /** 'other' carries devices, fifos and anything else an artifact must not hold. */
  kind: Kind | 'hardlink' | 'other';
  /** The raw type flag, for the refusal message. */
  typeflag: string;
  mode: number;
  size: number;
  linkpath: string;
  body: AsyncIterable<Buffer>;
}

export class Extractor {
  private readonly kinds = new Map<string, Kind>();
  private readonly symlinks = new Map<string, string>();
  fileCount = 0;

  constructor(private readonly root: string, private readonly label: string) {}

  private unsafe(entry: string, why: string): VezaError {
    return new VezaError(`${this.label}: unsafe entry ${JSON.stringify(entry)}: ${why}`,
      'refusing to unpack it; rebuild and republish the artifact with veza package', 'ARTIFACT_UNSAFE');
  }

  private archivePath(entry: string, p: string, what: string): string {
    const n = normaliseArchivePath(p);
    if ('error' in n) throw this.unsafe(entry, `${what} ${n.error}`);
    return n.path;
  }

  async add(e: TarEntry): Promise<void> {
    const rel = this.archivePath(e.path, e.path, 'its path');
    if (rel === '') {
      if (e.kind === 'dir') return;
      throw this.unsafe(e.path, 'it would replace the root directory');
    }
    if (e.kind === 'other') throw this.unsafe(e.path, `its type ${JSON.stringify(e.typeflag)} (device, fifo or unknown) is not allowed in an artifact`);
    const existing = this.kinds.get(rel);
    if (existing && !(existing === 'dir' && e.kind === 'dir')) throw this.unsafe(e.path, 'it appears twice in the archive');
    await this.ensureParents(e.path, rel);
    const abs = join(this.root, rel);
    switch (e.kind) {
      case 'dir':
        if (!existing) await fs.mkdir(abs, { mode: 0o755 });
        await fs.chmod(abs, 0o755);
        this.kinds.set(rel, 'dir');
        return;
      case 'file':
        await this.writeFile(abs, e);
        this.kinds.set(rel, 'file');
        this.fileCount++;
        return;
      case 'symlink':
        if (e.linkpath === '' || e.linkpath.includes('\u0000')) throw this.unsafe(e.path, 'its symlink target is empty or holds a NUL byte');
        if (e.linkpath.startsWith('/')) throw this.unsafe(e.path, `its symlink target ${JSON.stringify(e.linkpath)} is absolute`);
        await fs.symlink(e.linkpath, abs);
        this.kinds.set(rel, 'symlink');
        this.symlinks.set(rel, e.linkpath);
        this.fileCount++;
        return;
      case 'hardlink': {
        const target = this.archivePath(e.path, e.linkpath, 'its hardlink target');
        if (this.kinds.get(target) !== 'file') {
          throw this.unsafe(e.path, `its hardlink target ${JSON.stringify(e.linkpath)} is not a regular file earlier in the archive`);
        }
        await fs.link(join(this.root, target), abs);
        this.kinds.set(rel, 'file');
        this.fileCount++;
        return;
      }
    }
  }

  /** Every symlink, followed through the others, must stay inside the root. */
  finish(): void {
    for (const [link, target] of this.symlinks) {
      const why = symlinkEscape(link, this.symlinks);
      if (why) throw this.unsafe(link, `symlink -> ${target}: ${why}`);
    }
  }

  private async ensureParents(entry: string, rel: string): Promise<void> {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      const kind = this.kinds.get(prefix);
      if (kind === 'dir') continue;
      if (kind) throw this.unsafe(entry, `it lies below the ${kind} ${JSON.stringify(prefix)}`);
      await fs.mkdir(join(this.root, prefix), { mode: 0o755 });
      await fs.chmod(join(this.root, prefix), 0o755);
      this.kinds.set(prefix, 'dir');
    }
  }

  private async writeFile(abs: string, e: TarEntry): Promise<void> {
    const mode = normalisedMode('file', e.mode);
    const fh = await fs.open(abs, 'wx', mode);
    try {
      for await (const piece of e.body) await writeAll(fh, piece);
      await fh.chmod(mode);
    } finally {
      await fh.close();
    }
  }
}
