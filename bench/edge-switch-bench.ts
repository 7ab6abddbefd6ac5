/**
 * Edge switch benchmark: a real local edge (HAProxy, master-worker) in front
 * of real blue and green node:http backends on loopback, under a bounded
 * keep-alive load, while the colour flips every --interval ms through the
 * real switchColor(). Three ways of applying a switch, each on a fresh edge:
 *
 *   runtime  server states through the Runtime API (file rewritten first)
 *   reload   master-worker reload through the master socket
 *   restart  plain hard restart: stop HAProxy, start it on the new file
 *
 * The load and the backends run in child processes (edge-bench-worker.ts);
 * the switch runs here, alone on its event loop, as a switch command would.
 * Prints requests, non-2xx, socket errors, switches, the switch latency
 * (command start → the new colour answering through the edge), the command's
 * own time and the Runtime API round trips it made. --slow-ms N keeps one
 * request of N ms in flight on the plain pool all the time (a long download):
 * what a switch that waited for the old colour's sessions would wait for.
 * Asserts nothing.
 *
 *   node -r @swc-node/register bench/edge-switch-bench.ts [--seconds 30] [--clients 8] [--rate 2500]
 *     [--max-requests 200000] [--interval 500] [--modes runtime,reload,restart] [--slow-ms 0]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import type { Color } from '@veza/engine/config/names';
import { createMemoryLogger } from '@veza/engine/log/logger';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { bootstrapEdge } from '@veza/engine/edge/bootstrap';
import type { EdgeHost } from '@veza/engine/edge/edge-host';
import { createLocalEdgeHost } from '@veza/engine/edge/local-edge-host';
import { switchColor } from '@veza/engine/edge/switch';
import { createEdgeWorkspace, type FixtureEnv } from '@veza/engine/edge/testing/edge-fixture';

type Mode = 'runtime' | 'reload' | 'restart';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const SECONDS = Number(arg('seconds', '30'));
const CLIENTS = Number(arg('clients', '8'));
const INTERVAL_MS = Number(arg('interval', '500'));
const MODES = arg('modes', 'runtime,reload,restart').split(',') as Mode[];
/** Requests per second across all clients; 0 = flat out (then the load, not the switch, owns both cores). */
const RATE = Number(arg('rate', '2500'));
/** Bounds the load whatever the machine's speed. */
const MAX_REQUESTS = Number(arg('max-requests', '200000'));
const SLOW_MS = Number(arg('slow-ms', '0'));
const OCTET = 81;
const ENV: FixtureEnv = { name: 'bench', sub: 1, hosts: ['bench.test'] };

interface Figures {
  mode: Mode;
  requests: number;
  non2xx: number;
  socketErrors: number;
  switches: number;
  failedSwitches: number;
  latencies: number[];
  commandMs: number[];
  runtimeCalls: number[];
  seconds: number;
  firstErrors: string[];
}

function worker(args: string[]): ChildProcess {
  return fork(join(__dirname, 'edge-bench-worker.ts'), args, { execArgv: ['-r', '@swc-node/register'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function nextMessage<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m as T));
    child.once('exit', (code) => reject(new Error(`bench worker exited (${code})`)));
  });
}

async function runMode(mode: Mode, edgePort: number): Promise<Figures> {
  const fx = await createEdgeWorkspace({ octet: OCTET, envs: [ENV], edgePort, apply: mode === 'runtime' ? 'runtime' : 'reload' });
  const backends = worker(['backends', String(OCTET), String(ENV.sub)]);
  const host = createLocalEdgeHost({ workspaceRoot: fx.root, edge: 'local-edge', stopTimeoutMs: 0 });
  // restart: the real switch, but "apply" is stop + start of HAProxy instead of a reload.
  let calls = 0;
  const switchHost: EdgeHost = Object.assign(Object.create(host) as EdgeHost, {
    runtime: (commands: string[]) => (calls++, host.runtime(commands)),
    ...(mode === 'restart' ? { reload: async () => { await host.stop(); await host.start(); } } : {}),
  });
  const log = createMemoryLogger();
  const origin = `http://${fx.edgeAddress(ENV.name)}:${edgePort}`;
  const probe = new Pool(origin, { connections: 1, pipelining: 1 });
  const fig: Figures = { mode, requests: 0, non2xx: 0, socketErrors: 0, switches: 0, failedSwitches: 0, latencies: [], commandMs: [], runtimeCalls: [], seconds: 0, firstErrors: [] };
  let load: ChildProcess | undefined;
  try {
    await nextMessage(backends);
    const workspace = await loadWorkspace(fx.root);
    await bootstrapEdge({ workspace, edge: 'local-edge', log, host });
    load = worker(['load', origin, ENV.hosts[0]!, String(CLIENTS), String(MAX_REQUESTS), String(RATE), String(SLOW_MS)]);
    await nextMessage(load);
    const started = Date.now();
    const deadline = started + SECONDS * 1000;

    const colorNow = async (): Promise<string | undefined> => {
      try {
        const res = await probe.request({ path: '/', method: 'GET', headers: { host: ENV.hosts[0]! } });
        await res.body.dump();
        return res.headers['x-color'] as string | undefined;
      } catch {
        return undefined;
      }
    };

    let color: Color = 'blue';
    // Switches start on a fixed 500 ms grid (a slow one delays the next, never the count of later ones).
    for (let tick = 1; started + tick * INTERVAL_MS < deadline; tick++) {
      const wait = started + tick * INTERVAL_MS - Date.now();
      if (wait > 0) await sleep(wait);
      const target: Color = color === 'blue' ? 'green' : 'blue';
      const t0 = performance.now();
      calls = 0;
      let answered: number | undefined;
      const cmd = switchColor({ workspace, env: ENV.name, color: target, log, host: switchHost, actor: 'bench' })
        .then(() => performance.now() - t0);
      const watch = (async () => {
        while (answered === undefined && performance.now() - t0 < 10_000) {
          if ((await colorNow()) === target) answered = performance.now() - t0;
          else await sleep(1);
        }
      })();
      try {
        fig.commandMs.push(await cmd);
        fig.runtimeCalls.push(calls);
        await watch;
        if (answered !== undefined) fig.latencies.push(answered);
        fig.switches++;
        color = target;
      } catch (e) {
        fig.failedSwitches++;
        if (fig.firstErrors.length < 5) fig.firstErrors.push(`switch: ${(e as Error).message}`);
        await watch;
      }
    }
    const counts = nextMessage<{ requests: number; non2xx: number; socketErrors: number; errors: string[] }>(load);
    load.send('stop');
    const c = await counts;
    fig.seconds = (Date.now() - started) / 1000;
    Object.assign(fig, { requests: c.requests, non2xx: c.non2xx, socketErrors: c.socketErrors });
    fig.firstErrors.push(...c.errors);
    return fig;
  } finally {
    if (load && load.exitCode === null) load.kill();
    await probe.close().catch(() => undefined);
    await host.stop();
    if (backends.connected) backends.send('stop');
    await new Promise((r) => (backends.exitCode === null ? backends.once('exit', r) : r(undefined)));
    await fx.remove();
  }
}

function pct(xs: number[], p: number): string {
  if (!xs.length) return '-';
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!.toFixed(1);
}

async function main() {
  console.log(`edge switch bench: ${SECONDS}s per mode, ${CLIENTS} keep-alive clients, ${RATE || 'unpaced'} req/s, at most ${MAX_REQUESTS} requests, a switch every ${INTERVAL_MS} ms${SLOW_MS ? `, one ${SLOW_MS} ms request always in flight` : ''}`);
  const rows: Figures[] = [];
  for (const [i, mode] of MODES.entries()) rows.push(await runMode(mode, 18800 + i));
  const head = ['mode', 'requests', 'req/s', 'non-2xx', 'socket errors', 'switches', 'failed switches', 'answer p50 ms', 'answer p99 ms', 'command p50 ms', 'command p99 ms', 'runtime calls p50'];
  console.log(head.join('\t'));
  for (const f of rows) {
    console.log([f.mode, f.requests, Math.round(f.requests / f.seconds), f.non2xx, f.socketErrors, f.switches, f.failedSwitches,
      pct(f.latencies, 50), pct(f.latencies, 99), pct(f.commandMs, 50), pct(f.commandMs, 99), pct(f.runtimeCalls, 50)].join('\t'));
    for (const e of f.firstErrors) console.log(`  ${f.mode}: ${e}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
