/**
 * Deploy benchmark: the README's main job on the real components, through
 * the real Nx task graph, in a fresh copy of this repository (its own git
 * history, Nx cache, registry, Postgres and edge, on 127.79.6.x:18406), so
 * the cold run is really cold. In one run:
 *
 *   1. cold full deploy          nx run infra-deploy:deploy   (tests, builds, packages, publishes, provisions, deploys)
 *   2. no-change redeploy        the same command again
 *   3. one-component change      a commit touching only apps/veza-web, then deploy
 *   4. full rollback             nx run infra-deploy:rollback --mode=full
 *   5. fast rollback             nx run infra-deploy:rollback --mode=fast (after re-deploying the web change)
 *
 * Prints each command's wall time and the engine's own time (its summary
 * line), against the goals: no-change ≤ 5 % of cold, one-component change
 * ≤ 40 % of cold and rebuilding only that component, fast rollback < 1 s,
 * full rollback ≤ 25 % of cold. Asserts nothing.
 *
 *   node -r @swc-node/register bench/deploy-bench.ts [--daemon false]
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { copyRepository } from '../test/e2e/support/copy';
import { stopEverything } from '../test/e2e/support/workspace';

const run = promisify(execFile);
const daemon = !(process.argv.includes('--daemon') && process.argv[process.argv.indexOf('--daemon') + 1] === 'false');

interface Figure {
  step: string;
  command: string;
  wallMs: number;
  engineMs?: number;
  note?: string;
}

async function main(): Promise<void> {
  const cleanups: (() => unknown)[] = [];
  const figures: Figure[] = [];
  try {
    const repo = await copyRepository({ after: (fn) => cleanups.push(fn) }, { subnet: '127.79.6', port: 18406 });
    const env: NodeJS.ProcessEnv = { ...process.env, NX_DAEMON: daemon ? 'true' : 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', CI: '1' };
    delete env.VEZA_RELEASE_SHA;
    const nxBin = join(repo.dir, 'node_modules', '.bin', 'nx');
    cleanups.push(() => stopEverything(repo.dir, 'local'));
    if (daemon) cleanups.push(() => run(nxBin, ['daemon', '--stop'], { cwd: repo.dir, env }).catch(() => undefined));

    const nx = async (step: string, args: string[]): Promise<Figure & { out: string }> => {
      const started = process.hrtime.bigint();
      const r = await run(nxBin, args, { cwd: repo.dir, env, maxBuffer: 256 * 1024 * 1024, timeout: 20 * 60_000 }).catch((e: { stdout: string; stderr: string }) => {
        throw new Error(`${step} failed:\n${e.stdout}\n${e.stderr}`);
      });
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      const out = `${r.stdout}\n${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
      const summary = engineSummary(out);
      const f = { step, command: `nx ${args.join(' ')}`, wallMs, engineMs: summary?.durationMs, out, note: summary ? `engine outcome ${summary.outcome}` : undefined };
      process.stderr.write(`${step}: ${(wallMs / 1000).toFixed(2)} s${summary ? ` (engine ${summary.durationMs} ms, ${summary.outcome})` : ''}\n`);
      return f;
    };
    const deployArgs = ['run', 'infra-deploy:deploy', '--env=local'];

    const cold = await nx('cold full deploy', deployArgs);
    figures.push(cold);
    figures.push(await nx('no-change redeploy', deployArgs));

    await fs.appendFile(join(repo.dir, 'apps/veza-web/index.html'), '<!-- bench: a change to veza-web only -->\n');
    await repo.commit('bench: veza-web only');
    const change = await nx('one-component change', deployArgs);
    const built = [...change.out.matchAll(/^> nx run ([a-z-]+):build(.*)$/gm)].filter((m) => !/cache/.test(m[2]!)).map((m) => m[1]);
    figures.push({ ...change, note: `${change.note}; rebuilt: ${built.join(', ') || 'nothing'}` });

    figures.push(await nx('full rollback', ['run', 'infra-deploy:rollback', '--env=local', '--mode=full']));
    await nx('(re-deploy the change, not measured)', deployArgs);
    figures.push(await nx('fast rollback', ['run', 'infra-deploy:rollback', '--env=local', '--mode=fast']));

    report(figures, cold.wallMs);
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}

/**
 * The engine's own closing line (deploy/progress.ts, plain mode), e.g.
 * "deploy local: noop in 188ms (…)". Not --json: Nx forwards --json to the
 * publish tasks too, whose schema refuses options it does not know.
 */
function engineSummary(out: string): { durationMs: number; outcome: string } | undefined {
  const m = /^(?:deploy|rollback) local[^:\n]*: (success|noop|failure) in (?:(\d+)m)?([\d.]+)(ms|s)\b/m.exec(out);
  if (!m) return undefined;
  const value = Number(m[3]) * (m[4] === 'ms' ? 1 : 1000) + Number(m[2] ?? 0) * 60_000;
  return { outcome: m[1]!, durationMs: Math.round(value) };
}

function report(figures: Figure[], coldMs: number): void {
  const goals: Record<string, (f: Figure) => string> = {
    'no-change redeploy': (f) => `≤ 5 % of cold: ${pct(f.wallMs)}`,
    'one-component change': (f) => `≤ 40 % of cold: ${pct(f.wallMs)}`,
    'full rollback': (f) => `≤ 25 % of cold: ${pct(f.wallMs)}`,
    'fast rollback': (f) => `< 1 s: engine ${f.engineMs} ms, command ${(f.wallMs / 1000).toFixed(2)} s`,
  };
  function pct(ms: number) {
    return `${((ms / coldMs) * 100).toFixed(1)} %`;
  }
  const rows = figures.map((f) => [f.step, `${(f.wallMs / 1000).toFixed(2)} s`, f.engineMs === undefined ? '-' : `${f.engineMs} ms`, goals[f.step]?.(f) ?? '', f.note ?? '']);
  const head = ['step', 'command wall time', 'engine time', 'goal', 'note'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  console.log(`deploy benchmark — Nx daemon ${daemon ? 'on' : 'off'}, ${new Date().toISOString()}`);
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  for (const f of figures) console.log(`  ${f.step}: ${f.command}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
