/**
 * The generated deploy workflow run by act (tools/scripts/act-tool.sh) with
 * every runs-on label mapped to this host, against a copy of this repository
 * whose staging and prod are local-driver environments with a `file:`
 * registry (test/ci/support/act.ts; loopback 127.79.72–74.x, edge port 18473):
 *
 * 1. push to main → staging (first release: every component built);
 * 2. a commit touching only apps/veza-web, pushed to main → staging;
 * 3. a v* tag on that commit → prod;
 * 4. a dispatch of staging at the first commit's release_sha.
 * Prints each job's wall time from act's own step timings, and which
 * toolchain programs each job ran. Asserts nothing.
 *
 *   node -r @swc-node/register bench/ci-runner-bench.ts
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { actRepository, builtAct, jobSeconds, type ActEvent } from '../test/ci/support/act';

async function main(): Promise<void> {
  const act = builtAct();
  if (!act) throw new Error('act is not built: run bash tools/scripts/setup.sh (or tools/scripts/act-tool.sh)');
  const cleanups: (() => unknown)[] = [];
  const rows: string[] = [];
  try {
    // Not the runner test's addresses, so the two can run at once.
    const r = await actRepository({ after: (fn) => cleanups.push(fn) }, act, { edge: '127.79.73', staging: '127.79.74', prod: '127.79.72', port: 18473 });
    const first = await r.repo.head();
    const scenario = async (label: string, event: ActEvent) => {
      const run = await r.act(event);
      const jobs = Object.entries(jobSeconds(run.output)).map(([j, s]) => `${j} ${s.toFixed(1)} s`).join(', ');
      const line = `| ${label} | ${run.code === 0 ? 'ok' : `exit ${run.code}`} | ${run.seconds.toFixed(1)} s | ${jobs} | ${run.toolchain.join(', ') || 'none'} |`;
      process.stderr.write(`${line}\n`);
      rows.push(line);
      if (run.code !== 0) process.stderr.write(run.output.split('\n').slice(-60).join('\n'));
    };
    const only = process.argv[2];
    await scenario('push to main (first release)', { kind: 'push-main' });
    if (only === 'one') return;
    await fs.appendFile(join(r.repo.dir, 'apps/veza-web/index.html'), '<!-- bench: a change to veza-web only -->\n');
    await r.repo.commit('bench: veza-web only');
    await scenario('push to main, veza-web only changed', { kind: 'push-main' });
    await scenario('v* tag → prod', { kind: 'tag', tag: 'v0.0.1' });
    await scenario('dispatch staging at the first commit', { kind: 'dispatch', env: 'staging', releaseSha: first });
  } finally {
    console.log(`CI runner benchmark (act), ${new Date().toISOString()}, load average ${(await fs.readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')}`);
    for (const row of rows) console.log(row);
    for (const fn of cleanups.reverse()) await fn();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
