import { constants, promises as fs } from 'node:fs';
import { basename, isAbsolute, normalize, relative, resolve, sep } from 'node:path';
import { VezaError } from '../log/errors';

/**
 * Checks on the paths a component.json names, run before anything is built
 * so a typo is one clear line instead of a half-finished build.
 */
export interface SourceRef {
  workspaceRoot: string;
  projectRoot: string;
  /** Where the path came from, e.g. `build.entries.server`. */
  field: string;
}

export function declarationFile(ref: SourceRef): string {
  return relative(ref.workspaceRoot, resolve(ref.projectRoot, 'component.json'));
}

/** Resolves a project-relative path, refusing absolute paths and any that leave the project. */
export function projectPath(ref: SourceRef, rel: string): string {
  const abs = resolve(ref.projectRoot, rel);
  if (isAbsolute(rel) || !abs.startsWith(ref.projectRoot + sep)) {
    throw new VezaError(`${declarationFile(ref)}: ${ref.field} "${rel}" is outside the project folder`,
      'use a path relative to the project folder, without ..', 'BAD_COMPONENT');
  }
  return abs;
}

async function checkPath(ref: SourceRef, rel: string, want: 'file' | 'dir' | 'any'): Promise<string> {
  const abs = projectPath(ref, rel);
  const shown = relative(ref.workspaceRoot, abs);
  const where = `${declarationFile(ref)}: ${ref.field}`;
  let st;
  try {
    st = await fs.stat(abs);
    await fs.access(abs, st.isDirectory() ? constants.R_OK | constants.X_OK : constants.R_OK);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `is not readable (${(e as NodeJS.ErrnoException).code})`;
    throw new VezaError(`${where}: ${shown} ${why}`, 'fix the path (relative to the project folder) or create the file', 'BAD_COMPONENT');
  }
  if (want === 'file' && !st.isFile()) throw new VezaError(`${where}: ${shown} is not a file`, 'point it at a source file', 'BAD_COMPONENT');
  if (want === 'dir' && !st.isDirectory()) throw new VezaError(`${where}: ${shown} is not a folder`, 'point it at a folder', 'BAD_COMPONENT');
  return abs;
}

export const checkFile = (ref: SourceRef, rel: string) => checkPath(ref, rel, 'file');
export const checkDir = (ref: SourceRef, rel: string) => checkPath(ref, rel, 'dir');
export const checkExists = (ref: SourceRef, rel: string) => checkPath(ref, rel, 'any');

/** Two build outputs with one name would silently overwrite each other in the artifact root. */
export function checkDistinctOutputs(componentFile: string, names: { name: string; from: string }[]): void {
  const seen = new Map<string, string>();
  for (const { name, from } of names) {
    const other = seen.get(name);
    if (other) {
      throw new VezaError(`${componentFile}: ${other} and ${from} both produce "${name}" in the artifact`,
        'rename the entry, binary or asset so every output has its own name', 'BAD_COMPONENT');
    }
    seen.set(name, from);
  }
}

export const assetName = (rel: string) => basename(normalize(rel));
