import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify, stripVTControlCharacters } from 'node:util';
import { tempWorkspace, type TempWorkspace } from '@veza/engine/hosts/local/testing/fixtures';
import { WORKSPACE_ROOT } from '../../support/entry-process';

const run = promisify(execFile);
const GIT_ID = ['-c', 'user.name=veza-e2e', '-c', 'user.email=veza-e2e@localhost'];

/**
 * A copy of this repository (tracked and new files, not ignored ones) in a
 * temp dir, committed to a git repository of its own, sharing node_modules.
 * The `local` environment and its edge are moved to another loopback subnet
 * and port, so the copy never collides with a developer's own `local`.
 */
export interface RepoCopy extends TempWorkspace {
  head(): Promise<string>;
  commit(message: string): Promise<string>;
  /** Runs the copy's own `nx` as CI would (no daemon, this checkout's Nx cache); output without colours. */
  nx(...args: string[]): Promise<NxRun>;
}

export interface NxRun {
  code: number;
  stdout: string;
  /** stdout and stderr. */
  out: string;
}

export interface CopyOptions {
  subnet: string;
  port: number;
  /** A fixed author and committer date: two copies of the same files then get the same commit sha. */
  commitDate?: string;
  /** How long one nx command may run before it is killed (default 10 min). */
  nxTimeoutMs?: number;
}

export async function copyRepository(t: { after(fn: () => unknown): void }, opts: CopyOptions): Promise<RepoCopy> {
  const tmp = await tempWorkspace(t, 'repo');
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: WORKSPACE_ROOT, maxBuffer: 64 * 1024 * 1024 });
  for (const rel of stdout.split('\0').filter(Boolean)) {
    const from = join(WORKSPACE_ROOT, rel);
    const st = await fs.lstat(from).catch(() => undefined);
    if (!st?.isFile()) continue; // deleted in the work tree, or a link
    await fs.mkdir(dirname(join(tmp.dir, rel)), { recursive: true });
    await fs.copyFile(from, join(tmp.dir, rel));
  }
  await fs.symlink(join(WORKSPACE_ROOT, 'node_modules'), join(tmp.dir, 'node_modules'));
  await edit(join(tmp.dir, 'infra/environments/local.yaml'), (s) => s.replace(/subnet: [0-9.]+/, `subnet: ${opts.subnet}`).replace(/:18080\b/, `:${opts.port}`));
  await edit(join(tmp.dir, 'infra/edges/local-edge.yaml'), (s) => s.replace(/port: 18080/, `port: ${opts.port}`).replace(/addresses: \[127\.0\.0\.1\]/, `addresses: [${opts.subnet}.1]`));

  const dates = opts.commitDate ? { GIT_AUTHOR_DATE: opts.commitDate, GIT_COMMITTER_DATE: opts.commitDate } : {};
  const git = (...args: string[]) => run('git', [...GIT_ID, ...args], { cwd: tmp.dir, env: { ...process.env, ...dates } }).then((r) => r.stdout.trim());
  await git('init', '-q');
  await fs.appendFile(join(tmp.dir, '.git/info/exclude'), 'node_modules\n');
  const commit = async (message: string) => {
    await git('add', '-A');
    await git('commit', '-q', '--allow-empty', '-m', message);
    return git('rev-parse', 'HEAD');
  };
  await commit('e2e copy');
  const nx = async (...args: string[]): Promise<NxRun> => {
    const env: NodeJS.ProcessEnv = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', CI: '1', NX_CACHE_DIRECTORY: join(WORKSPACE_ROOT, '.nx', 'cache') };
    // The copy decides its own release and runs its own tests, of its default tier.
    delete env.VEZA_RELEASE_SHA;
    delete env.NODE_TEST_CONTEXT;
    delete env.VEZA_TEST_TIER;
    const r = await run(join(tmp.dir, 'node_modules', '.bin', 'nx'), args, { cwd: tmp.dir, env, maxBuffer: 64 * 1024 * 1024, timeout: opts.nxTimeoutMs ?? 10 * 60_000 })
      .then((ok) => ({ ...ok, code: 0 }), (e: { stdout: string; stderr: string; code: number }) => e);
    return { code: r.code, stdout: stripVTControlCharacters(r.stdout), out: stripVTControlCharacters(`${r.stdout}\n${r.stderr}`) };
  };
  return { ...tmp, head: () => git('rev-parse', 'HEAD'), commit, nx };
}

async function edit(file: string, fn: (s: string) => string): Promise<void> {
  const before = await fs.readFile(file, 'utf8');
  const after = fn(before);
  if (after === before) throw new Error(`${file}: the e2e copy expected to move its address or port, but the file has another shape`);
  await fs.writeFile(file, after);
}
