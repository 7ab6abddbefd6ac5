import { constants, promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { VezaError } from '../log/errors';

/**
 * Finds an executable on PATH, then in `fallbackDirs` (rustup installs into
 * ~/.cargo/bin, which a non-login shell often lacks on PATH).
 */
export async function findExecutable(name: string, env: NodeJS.ProcessEnv, fallbackDirs: string[] = []): Promise<string | undefined> {
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), ...fallbackDirs];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      const st = await fs.stat(candidate);
      if (!st.isFile()) continue;
      await fs.access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

export async function requireExecutable(name: string, env: NodeJS.ProcessEnv, install: string, fallbackDirs: string[] = []): Promise<string> {
  const found = await findExecutable(name, env, fallbackDirs);
  if (!found) {
    const looked = fallbackDirs.length ? ` (looked on PATH and in ${fallbackDirs.join(', ')})` : ' on PATH';
    throw new VezaError(`${name} not found${looked}`, install, 'MISSING_TOOLCHAIN');
  }
  return found;
}

/** Where rustup puts cargo, rustc and rustup itself. */
export function cargoBinDirs(env: NodeJS.ProcessEnv): string[] {
  const home = env.HOME || homedir();
  return [env.CARGO_HOME ? join(env.CARGO_HOME, 'bin') : join(home, '.cargo', 'bin')];
}

/** Resolves a tool shipped as an npm package of the workspace (esbuild, vite). */
export function requirePackageFile(specifier: string, pkg: string): string {
  try {
    return require.resolve(specifier);
  } catch {
    throw new VezaError(`the ${pkg} package is not installed`, 'run npm ci at the workspace root', 'MISSING_TOOLCHAIN');
  }
}
