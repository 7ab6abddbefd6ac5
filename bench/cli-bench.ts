/**
 * Operator CLI benchmark (issue 17): whole-process wall times of `veza`
 * against the Nx targets doing the same thing, side by side in one run, on
 * the real components deployed to `local` in a fresh copy of this
 * repository (its own git history, registry, Postgres and edge on
 * <subnet>.x:<port>, by default 127.79.27.x:18427). Nx runs as in CI:
 * `NX_DAEMON=false npx nx run …`.
 *
 *   0. (not measured) npx nx run-many -t package: every component built and packaged into the Nx cache
 *   1. cold deploy            npx nx run infra-deploy:deploy --env=local onto an environment that has nothing yet
 *                             (no registry, Postgres, edge or slot), every package task a cache hit: no component rebuild
 *   2. no-change redeploy     the same command, --runs times (median); interleaved with the same under NX_ISOLATE_PLUGINS=true
 *                             (Nx's default, which the workspace's .env turns off); then `nx show projects` (client + graph)
 *   3. a veza-web change deployed, so both colours hold a good release
 *   4. --runs interleaved samples of each pair:
 *        status              npx veza status          | node tools/veza/bin/veza.js status | npx nx run infra-deploy:status
 *        rollback --mode=fast  (re-armed before each sample by an untimed `veza switch` back to the newer release's colour)
 *        diff                npx veza diff            | …                                  | npx nx run infra-deploy:diff
 *      and `node -e 0`, what any Node process costs here, and `veza.js --help`, the CLI's bundle loaded and no engine call.
 *   5. (run first) the post-switch gate's time to revert, --runs times, on a throw-away workspace of the e2e tests' two small
 *      components (127.79.<gate-octet>.x): a release that passes health and verification but answers 500 to every
 *      fifth request, deployed with --bake=30 under a loopback load (4 clients); from the end of the switch (E) to
 *      the end of the switch back, read from the deploy's own JSON events.
 *
 * Prints medians (and min–max) of wall time, and the median CPU time (user + system of the process and the
 * children it waited for, from /usr/bin/time): on a shared machine the CPU time is what a command costs.
 * Asserts nothing.
 *
 *   node -r @swc-node/register bench/cli-bench.ts [--runs 5] [--subnet 127.79.27] [--port 18427] [--gate-octet 28]
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { copyRepository } from '../test/e2e/support/copy';
import { WORKSPACE_ROOT } from '../test/support/entry-process';
import { startLoad } from '../test/e2e/support/load';
import { e2eWorkspace, stopEverything } from '../test/e2e/support/workspace';
import { deploy } from '@veza/engine/deploy/deploy';

const run = promisify(execFile);
const arg = (name: string, fallback: string) => {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : process.argv[at + 1]!;
};
const RUNS = Number(arg('runs', '5'));
const SUBNET = arg('subnet', '127.79.27');
const PORT = Number(arg('port', '18427'));
const GATE_OCTET = Number(arg('gate-octet', '28'));

interface Sample {
  ms: number;
  /** CPU time (user + system) of the process and the children it waited for, from /usr/bin/time. */
  cpuMs: number;
  stdout: string;
  /** stdout and stderr. */
  out: string;
}

async function main(): Promise<void> {
  const cleanups: (() => unknown)[] = [];
  try {
    // First: a few seconds, and on its own subnet.
    const gate = await gateRevert({ after: (fn) => cleanups.push(fn) });
    const repo = await copyRepository({ after: (fn) => cleanups.push(fn) }, { subnet: SUBNET, port: PORT });
    cleanups.push(() => stopEverything(repo.dir, 'local'));
    // This checkout's Nx cache, as the e2e copies use: the untimed package step then rebuilds only what it lacks.
    const env: NodeJS.ProcessEnv = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', CI: '1', NX_CACHE_DIRECTORY: join(WORKSPACE_ROOT, '.nx', 'cache') };
    delete env.VEZA_RELEASE_SHA;
    delete env.NODE_TEST_CONTEXT;
    // Inside .git: a file in the work tree would make the workspace's release a dirty local-… one.
    const cpuFile = join(repo.dir, '.git', 'bench-cpu');
    const timed = async (label: string, file: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Sample> => {
      const started = process.hrtime.bigint();
      // The machine is shared: CPU time says what a command costs, wall time what it took here.
      const r = await run('/usr/bin/time', ['-f', '%U %S', '-o', cpuFile, file, ...args], { cwd: repo.dir, env: { ...env, ...extraEnv }, maxBuffer: 256 * 1024 * 1024, timeout: 30 * 60_000 })
        .catch((e: { stdout: string; stderr: string }) => {
          throw new Error(`${label} failed:\n${e.stdout}\n${e.stderr}`);
        });
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const [user, sys] = (await fs.readFile(cpuFile, 'utf8')).trim().split('\n').pop()!.split(' ').map(Number);
      const cpuMs = (user! + sys!) * 1000;
      process.stderr.write(`${label}: ${(ms / 1000).toFixed(2)} s, CPU ${(cpuMs / 1000).toFixed(2)} s\n`);
      return { ms, cpuMs, stdout: r.stdout, out: `${r.stdout}\n${r.stderr}` };
    };
    const npx = (label: string, ...args: string[]) => timed(label, 'npx', args);
    const bin = join(repo.dir, 'tools/veza/bin/veza.js');
    const deployNx = ['nx', 'run', 'infra-deploy:deploy', '--env=local'];

    await npx('(build and package every component into the Nx cache, not measured)', 'nx', 'run-many', '-t', 'package');
    const cold = await npx('cold deploy', ...deployNx);
    const noChange: Sample[] = [];
    const isolated: Sample[] = [];
    for (let i = 0; i < RUNS; i++) {
      noChange.push(await npx('no-change redeploy', ...deployNx));
      // What the workspace's .env (NX_ISOLATE_PLUGINS=false) saves: Nx's default, a plugin worker process per plugin.
      isolated.push(await timed('no-change redeploy, NX_ISOLATE_PLUGINS=true', 'npx', deployNx, { NX_ISOLATE_PLUGINS: 'true' }));
    }
    const graph: Sample[] = [];
    for (let i = 0; i < RUNS; i++) graph.push(await npx('nx show projects (the Nx client and the project graph, no task)', 'nx', 'show', 'projects'));

    await fs.appendFile(join(repo.dir, 'apps/veza-web/index.html'), '<!-- bench: a change to veza-web only -->\n');
    const newer = await repo.commit('bench: veza-web only');
    await npx('(deploy the change, not measured)', ...deployNx);
    // The CLI's first run builds its bundle and writes its code cache; not a sample.
    await timed('(veza first run: bundle + code cache, not measured)', 'node', [bin, 'status']);

    const live = async () => (JSON.parse((await timed('(active colour)', 'node', [bin, 'status', '--json'])).stdout) as { activeColor: string }).activeColor;
    const newerColor = await live();
    const rearm = () => timed('(re-arm: switch back to the newer release, not measured)', 'node', [bin, 'switch', '--env=local', `--color=${newerColor}`, `--sha=${newer}`]);

    const rows: Record<string, Record<string, Sample[]>> = {};
    const add = (what: string, how: string, s: Sample) => ((rows[what] ??= {})[how] ??= []).push(s);
    for (let i = 0; i < RUNS; i++) {
      add('node -e 0', 'node', await timed('node -e 0', 'node', ['-e', '0']));
      add('--help (bundle load only)', 'veza.js', await timed('veza.js --help', 'node', [bin, '--help']));
      for (const [what, words] of [['status', ['status', '--env=local']], ['diff', ['diff', '--env=local']]] as const) {
        add(what, 'npx veza', await npx(`npx veza ${what}`, 'veza', ...words));
        add(what, 'veza.js', await timed(`veza.js ${what}`, 'node', [bin, ...words]));
        add(what, 'nx', await npx(`nx ${what}`, 'nx', 'run', `infra-deploy:${what}`, '--env=local'));
      }
      const rollback: [string, () => Promise<Sample>][] = [
        ['npx veza', () => npx('npx veza rollback --mode=fast', 'veza', 'rollback', '--env=local', '--mode=fast')],
        ['veza.js', () => timed('veza.js rollback --mode=fast', 'node', [bin, 'rollback', '--env=local', '--mode=fast'])],
        ['nx', () => npx('nx rollback --mode=fast', 'nx', 'run', 'infra-deploy:rollback', '--env=local', '--mode=fast')],
      ];
      for (const [how, sample] of rollback) {
        await rearm();
        add('rollback --mode=fast', how, await sample());
      }
    }

    const range = (ms: number[]) => `${(median(ms) / 1000).toFixed(2)} s (${(Math.min(...ms) / 1000).toFixed(2)}–${(Math.max(...ms) / 1000).toFixed(2)})`;
    const fmt = (ss: Sample[]) => `${range(ss.map((s) => s.ms))}, CPU ${(median(ss.map((s) => s.cpuMs)) / 1000).toFixed(2)} s`;
    console.log(`veza CLI benchmark — ${new Date().toISOString()}, ${RUNS} runs each, load average ${(await fs.readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')}`);
    console.log('wall time median (min–max), CPU time (user+sys, the process and its children) median');
    console.log('| command | npx veza | node tools/veza/bin/veza.js | NX_DAEMON=false npx nx run |');
    console.log('|---|---|---|---|');
    for (const [what, by] of Object.entries(rows)) console.log(`| ${what} | ${by['npx veza'] ? fmt(by['npx veza']) : '-'} | ${by['veza.js'] ? fmt(by['veza.js']) : '-'} | ${by.nx ? fmt(by.nx) : by.node ? `(node) ${fmt(by.node)}` : '-'} |`);
    const engine = noChange.map((s) => engineMs(s.out)).filter((x): x is number => x !== undefined);
    const share = (ss: Sample[], key: 'ms' | 'cpuMs') => `${((median(ss.map((s) => s[key])) / cold[key]) * 100).toFixed(1)} %`;
    console.log(`cold deploy: ${(cold.ms / 1000).toFixed(2)} s, CPU ${(cold.cpuMs / 1000).toFixed(2)} s (engine ${engineMs(cold.out) ?? '?'} ms)`);
    console.log(`no-change redeploy: ${fmt(noChange)}: ${share(noChange, 'ms')} of cold's wall time, ${share(noChange, 'cpuMs')} of its CPU time (engine median ${median(engine)} ms); goal ≤ 5 %`);
    console.log(`no-change redeploy with NX_ISOLATE_PLUGINS=true: ${fmt(isolated)}: ${share(isolated, 'ms')} / ${share(isolated, 'cpuMs')}`);
    console.log(`nx show projects: ${fmt(graph)}: ${share(graph, 'ms')} / ${share(graph, 'cpuMs')}`);
    console.log(`gate, switch to reverted: ${range(gate.map((g) => g.total))}; of which the bake until it failed ${range(gate.map((g) => g.bake))}, the switch back ${range(gate.map((g) => g.revert))}`);
    console.log(`load average at the end ${(await fs.readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')}`);
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}

/** The gate reverting a release that fails a fifth of real requests, `RUNS` times: ms from the end of E to the end of the switch back. */
async function gateRevert(t: { after(fn: () => unknown): void }): Promise<{ total: number; bake: number; revert: number }[]> {
  const ws = await e2eWorkspace(t, 'gate-bench', { octet: GATE_OCTET });
  const good = 'a9'.repeat(20);
  await ws.release(good);
  await deploy(await ws.options(good));
  const out: { total: number; bake: number; revert: number }[] = [];
  for (let i = 0; i < RUNS; i++) {
    const flaky = (0xb0 + i).toString(16).repeat(20);
    await ws.release(flaky, { api: { failEvery: 5 } });
    const o = await ws.options(flaky);
    const load = startLoad(ws.get, ['/api/tracks']);
    const failed = await deploy({ ...o, json: true, bake: 30 }).then(() => false, () => true);
    await load.stop();
    const ends = o.lines.map((l) => JSON.parse(l) as { event: string; id?: string; time: string; durationMs?: number }).filter((e) => e.event === 'phase-end');
    const at = (id: string) => ends.find((e) => e.id === id);
    const [e, bake, revert] = [at('E'), at('bake'), at('revert')];
    if (!failed || !e || !bake || !revert) throw new Error(`the gate did not revert ${flaky}:\n${o.lines.join('\n')}`);
    out.push({ total: Date.parse(revert.time) - Date.parse(e.time), bake: bake.durationMs!, revert: revert.durationMs! });
    process.stderr.write(`gate revert: ${out.at(-1)!.total} ms\n`);
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** The engine's closing line, e.g. "deploy local: noop in 188ms". */
function engineMs(out: string): number | undefined {
  const m = /^deploy local[^:\n]*: (?:success|noop) in (?:(\d+)m)?([\d.]+)(ms|s)\b/m.exec(out);
  return m ? Math.round(Number(m[2]) * (m[3] === 'ms' ? 1 : 1000) + Number(m[1] ?? 0) * 60_000) : undefined;
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
