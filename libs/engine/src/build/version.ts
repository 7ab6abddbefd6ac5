import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { VezaError } from '../log/errors';
import { validate } from '../config/names';
import { createProcessRunner, type Command, type ProcessRunner } from '../ports/process';

/**
 * The version a build is stamped with. It is deliberately not an Nx input:
 * a cache hit restores the artifact built under the sha of the commit that
 * first produced those inputs, and the release manifest points at it.
 */

/** Set by CI (seed 000's `resolve` job) so every build of a run carries the same sha. */
export const RELEASE_SHA_ENV = 'VEZA_RELEASE_SHA';

export const gitCommands = {
  insideWorkTree: (cwd: string): Command => ({ argv: ['git', 'rev-parse', '--is-inside-work-tree'], cwd, description: 'check that the workspace is a git work tree' }),
  head: (cwd: string): Command => ({ argv: ['git', 'rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], cwd, description: 'read the commit being built' }),
  // --no-optional-locks: parallel build tasks call this at once and must not fight over index.lock.
  status: (cwd: string): Command => ({ argv: ['git', '--no-optional-locks', 'status', '--porcelain'], cwd, description: 'check for uncommitted changes' }),
  indexPath: (cwd: string): Command => ({ argv: ['git', 'rev-parse', '--git-path', 'index'], cwd, description: 'locate the git index' }),
  // Staged into a throw-away index so the user's own staging area is untouched.
  addAll: (cwd: string, indexFile: string): Command => ({ argv: ['git', 'add', '--all'], cwd, env: { GIT_INDEX_FILE: indexFile }, description: 'hash the working tree' }),
  writeTree: (cwd: string, indexFile: string): Command => ({ argv: ['git', 'write-tree'], cwd, env: { GIT_INDEX_FILE: indexFile }, description: 'hash the working tree' }),
};

/** A dirty tree is named by the hash of its content (HEAD plus every change), so it never collides with a release sha. */
export function localVersion(treeHash: string): string {
  return `local-${treeHash.slice(0, 12)}`;
}

export async function resolveBuildVersion(
  workspaceRoot: string,
  env: NodeJS.ProcessEnv = process.env,
  runner: ProcessRunner = createProcessRunner(),
): Promise<string> {
  const fromEnv = env[RELEASE_SHA_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    try {
      return validate.sha(fromEnv);
    } catch {
      throw new VezaError(`${RELEASE_SHA_ENV}=${JSON.stringify(fromEnv)} is not a 40-hex git sha`,
        `set it to the full lower-case sha (git rev-parse HEAD) or unset it to use the checkout's own`, 'INVALID_INPUT');
    }
  }

  const inside = await runner.run(gitCommands.insideWorkTree(workspaceRoot), { check: false });
  if (inside.exitCode !== 0 || inside.stdout.trim() !== 'true') {
    const why = inside.stderr.trim().split('\n')[0];
    throw new VezaError(`${workspaceRoot} is not a git work tree, so the build has no version${why ? ` (git: ${why})` : ''}`,
      `build from a git clone, or set ${RELEASE_SHA_ENV} to the 40-hex sha this build is for`, 'NO_VERSION');
  }
  const head = await runner.run(gitCommands.head(workspaceRoot), { check: false });
  const status = await runner.run(gitCommands.status(workspaceRoot));
  if (head.exitCode === 0 && status.stdout.trim() === '') return validate.sha(head.stdout.trim());
  return localVersion(await hashWorkingTree(workspaceRoot, runner));
}

async function hashWorkingTree(workspaceRoot: string, runner: ProcessRunner): Promise<string> {
  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-version-'));
  const tmpIndex = join(dir, 'index');
  try {
    const rel = (await runner.run(gitCommands.indexPath(workspaceRoot))).stdout.trim();
    const realIndex = isAbsolute(rel) ? rel : join(workspaceRoot, rel);
    // Starting from a copy keeps git's stat cache, so only changed files are re-read.
    const copied = await fs.copyFile(realIndex, tmpIndex).then(() => true, (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
      return false;
    });
    // The copy is newer than the real index, so git would trust an entry whose size and mtime still match
    // even where the real index was racy (a same-second edit): `git status` saw the change, the hash would
    // not. Dated to 1 s (0 turns the check off), the copy makes every such entry racy, so it is re-read.
    if (copied) await fs.utimes(tmpIndex, 1, 1);
    await runner.run(gitCommands.addAll(workspaceRoot, tmpIndex));
    return (await runner.run(gitCommands.writeTree(workspaceRoot, tmpIndex))).stdout.trim();
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
