import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { ComponentDeclaration } from '../config/component';
import { elfLinking } from './elf';
import { listTree } from './tree';

/**
 * Package-time warnings for a component that declares no `run.needs` yet
 * asks its slot's OS for something: a command that is not in its artifact,
 * or an executable linked against libraries beyond glibc's (which every
 * Debian image has). Without them its slot, launched from the bare base
 * image, would fail at start. Warnings, not errors: the check cannot know
 * which packages a declared need brings, so a component that declares any
 * is not second-guessed.
 */
const GLIBC_LOADERS = new Set(['/lib64/ld-linux-x86-64.so.2', '/lib/ld-linux-aarch64.so.1', '/lib/ld-linux-armhf.so.3']);
/** libc6 and libgcc-s1 (which libc6 depends on) are in every Debian base image, minbase included. */
const BASE_LIBRARIES = new Set([
  'libc.so.6', 'libm.so.6', 'libpthread.so.0', 'libdl.so.2', 'librt.so.1', 'libresolv.so.2', 'libutil.so.1', 'libanl.so.1', 'libgcc_s.so.1',
  'ld-linux-x86-64.so.2', 'ld-linux-aarch64.so.1', 'ld-linux-armhf.so.3',
]);

export async function undeclaredOsNeeds(rootDir: string, c: Pick<ComponentDeclaration, 'name' | 'run'>): Promise<string[]> {
  if (c.run.needs.length > 0) return [];
  const where = `apps/${c.name}/component.json`;
  const entries = await listTree(rootDir);
  const warnings: string[] = [];
  const program = c.run.command[0]!;
  // A bare name or an absolute path is the OS's program; a relative path is the artifact's.
  if (!program.includes('/') || program.startsWith('/')) {
    warnings.push(`${c.name} runs ${program}, which is not in its artifact, and declares no run.needs: its slot would have no ${program} — declare the Debian package that provides it in ${where} run.needs (nodejs for node)`);
  }
  for (const e of entries) {
    if (e.kind !== 'file' || !isElf(join(rootDir, e.rel))) continue;
    const linking = elfLinking(readFileSync(join(rootDir, e.rel)));
    if (!linking) continue;
    const missing = [
      ...(linking.interpreter && !GLIBC_LOADERS.has(linking.interpreter) ? [linking.interpreter] : []),
      ...linking.needed.filter((lib) => !BASE_LIBRARIES.has(lib)),
    ];
    if (missing.length > 0) {
      warnings.push(`${c.name}: ${e.rel} is dynamically linked against ${missing.join(', ')} (beyond glibc's), and ${where} declares no run.needs: a base image without them cannot start it — declare the Debian packages that provide them (dpkg -S <library> finds them), or link it statically`);
    }
  }
  return warnings;
}

function isElf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const magic = Buffer.alloc(4);
    return readSync(fd, magic, 0, 4, 0) === 4 && magic.readUInt32BE(0) === 0x7f454c46;
  } finally {
    closeSync(fd);
  }
}
