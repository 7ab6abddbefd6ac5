/**
 * CI's two jobs, timed on the local driver in a fresh copy of this
 * repository (its own git history, Nx cache, `file:` registry, PostgreSQL
 * and edge on 127.79.19.x:18419), as the generated workflow runs them:
 *
 *   build job   nx run infra-deploy:release --env=local --sha=S
 *   deploy job  nx run infra-deploy:deploy --env=local --sha=S --excludeTaskDependencies
 *
 * 1. first release (every component built) and its deploy (every slot new);
 * 2. the build job again on the same commit with an empty Nx cache and no
 *    dist/ (a fresh checkout on another runner): it must build nothing;
 * 3. a commit touching only apps/veza-web: its release (only veza-web built)
 *    and its deploy.
 * Whole-command wall times, and which Nx build tasks ran in each command.
 * The local driver is a proxy for the Incus runner: the deploy job's work
 * (fetch, verify, slots, switch) is the same engine code. Asserts nothing.
 *
 *   node -r @swc-node/register bench/ci-jobs-bench.ts
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { copyRepository } from '../test/e2e/support/copy';
import { stopEverything } from '../test/e2e/support/workspace';

const run = promisify(execFile);

async function main(): Promise<void> {
  const cleanups: (() => unknown)[] = [];
  const rows: string[][] = [];
  try {
    const repo = await copyRepository({ after: (fn) => cleanups.push(fn) }, { subnet: '127.79.19', port: 18419 });
    cleanups.push(() => stopEverything(repo.dir, 'local'));
    const nxBin = join(repo.dir, 'node_modules', '.bin', 'nx');
    const env: NodeJS.ProcessEnv = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', CI: '1', NX_CACHE_DIRECTORY: join(repo.dir, '.nx', 'cache') };
    delete env.VEZA_RELEASE_SHA;

    const nx = async (step: string, args: string[]) => {
      const started = process.hrtime.bigint();
      const r = await run(nxBin, args, { cwd: repo.dir, env, maxBuffer: 256 * 1024 * 1024, timeout: 30 * 60_000 }).catch((e: { stdout: string; stderr: string }) => {
        throw new Error(`${step} failed:\n${e.stdout}\n${e.stderr}`);
      });
      const wall = Number(process.hrtime.bigint() - started) / 1e9;
      const out = `${r.stdout}\n${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
      // Tasks Nx ran, cache hits included: the nested run-many of the release prints them too.
      const built = [...new Set([...out.matchAll(/> nx run ([a-z-]+):(build|package)\b(.*)$/gm)].filter((m) => !/cache/.test(m[3]!)).map((m) => m[1]!))];
      process.stderr.write(`${step}: ${wall.toFixed(2)} s, built: ${built.join(', ') || 'nothing'}\n`);
      rows.push([step, `${wall.toFixed(2)} s`, built.join(', ') || 'nothing', `nx ${args.join(' ')}`]);
    };
    const jobs = async (label: string) => {
      const sha = await repo.head();
      await nx(`build job, ${label}`, ['run', 'infra-deploy:release', '--env=local', `--sha=${sha}`]);
      return sha;
    };
    const deployJob = (label: string, sha: string) => nx(`deploy job, ${label}`, ['run', 'infra-deploy:deploy', '--env=local', `--sha=${sha}`, '--excludeTaskDependencies']);

    const first = await jobs('first release (all components)');
    await deployJob('all components new', first);
    await fs.rm(join(repo.dir, 'dist'), { recursive: true, force: true });
    await fs.rm(join(repo.dir, '.nx'), { recursive: true, force: true });
    await nx('build job again, same commit, empty Nx cache', ['run', 'infra-deploy:release', '--env=local', `--sha=${first}`]);

    await fs.appendFile(join(repo.dir, 'apps/veza-web/index.html'), '<!-- bench: a change to veza-web only -->\n');
    await repo.commit('bench: veza-web only');
    const second = await jobs('one-component change');
    await deployJob('one-component change', second);

    console.log(`CI jobs benchmark, ${new Date().toISOString()}, load average ${(await fs.readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')}`);
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
