/**
 * WebSockets across a blue/green switch (issue 15 part 4), on the real local
 * tier of test/e2e/ws-switch.test.ts (its own workspace on 127.79.81.x:18481):
 *
 *   1. deploy A; open --sessions WebSocket sessions that echo every --interval ms
 *   2. deploy B (the switch) while a prober opens a fresh session every 100 ms,
 *      without a cookie and with the old colour's sticky cookie
 *   3. hold --hold-ms, then deploy C, which re-creates the old colour's slots
 *      after waiting up to tunnelDrainMs (--drain-ms) for its sessions to close
 *
 * Prints how long the old sessions lived after the switch and how they ended,
 * their dropped messages and echoes from another colour (0 and 0 expected),
 * when fresh sessions first landed on the new colour (from the switch phase's
 * start) and how many landed on the old one after the switch returned, and
 * the drain deploy C waited. Asserts nothing.
 *
 *   node -r @swc-node/register bench/ws-switch-bench.ts [--sessions 8] [--interval 50] [--hold-ms 5000] [--drain-ms 3000]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { deploy } from '@veza/engine/deploy/deploy';
import { e2eWorkspace, setEdgeSetting } from '../test/e2e/support/workspace';
import { openEchoSession, type EchoSession } from '../test/e2e/support/echo-session';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SESSIONS = arg('sessions', 8);
const INTERVAL_MS = arg('interval', 50);
const HOLD_MS = arg('hold-ms', 5_000);
const DRAIN_MS = arg('drain-ms', 3_000);
/** The prober's bound: one fresh session per 100 ms for at most this many. */
const MAX_PROBES = 600;
const [A, B, C] = ['a7', 'b7', 'c7'].map((s) => s.repeat(20)) as [string, string, string];

interface Landing { at: number; color: string }

async function main(): Promise<void> {
  const cleanups: (() => unknown)[] = [];
  const ws = await e2eWorkspace({ after: (fn: () => unknown) => cleanups.push(fn) } as never, 'wsbench', { octet: 81, websocket: true });
  const open = (cookie?: string) => openEchoSession(ws.edge, { intervalMs: INTERVAL_MS, cookie });
  try {
    await setEdgeSetting(ws, 'tunnelDrainMs', DRAIN_MS);
    await ws.release(A);
    await deploy(await ws.options(A));
    const old = await Promise.all(Array.from({ length: SESSIONS }, () => open()));
    const oldColor = old[0]!.color;

    // The prober: a fresh session every 100 ms, closed after its first echo.
    const landings: { plain: Landing[]; sticky: Landing[] } = { plain: [], sticky: [] };
    let probing = true;
    const probe = async (into: Landing[], cookie?: string) => {
      for (let i = 0; probing && i < MAX_PROBES; i++) {
        const s = await open(cookie).catch(() => undefined);
        if (s) {
          into.push({ at: performance.now(), color: s.color });
          await s.close();
        }
        await sleep(100);
      }
    };
    const probes = Promise.all([probe(landings.plain), probe(landings.sticky, old[0]!.cookie)]);

    await ws.release(B);
    const b = await ws.options(B);
    const phaseE: number[] = [];
    const write = b.write;
    b.write = (line) => {
      if (/^\[E\] switch edge to/.test(line)) phaseE.push(performance.now());
      write(line);
    };
    await sleep(500);
    await deploy(b);
    const [switchStart, switchEnd] = phaseE as [number, number];
    const echoedAtSwitch = old.map((s) => s.echoed);
    await sleep(1_000);
    probing = false;
    await probes;

    await sleep(HOLD_MS);
    await ws.release(C);
    const c = await ws.options(C);
    const cStart = performance.now();
    await deploy(c);
    const drainLine = c.lines.find((l) => /session\(s\) still open|every session on/.test(l)) ?? '(no drain: nothing was open)';

    const lived = old.map((s) => ((s.closed?.at ?? performance.now()) - switchEnd) / 1000);
    const first = (ls: Landing[], color: string) => ls.find((l) => l.at >= switchStart && l.color === color);
    const newColor = oldColor === 'blue' ? 'green' : 'blue';
    const fmt = (l?: Landing) => (l ? `${((l.at - switchStart) / 1000).toFixed(2)} s` : 'never');
    console.log(`# ws-switch-bench: ${SESSIONS} sessions echoing every ${INTERVAL_MS} ms; switch ${oldColor} → ${newColor} took ${((switchEnd - switchStart) / 1000).toFixed(2)} s (tunnelDrainMs ${DRAIN_MS})`);
    console.log(`old sessions after the switch: lived ${Math.min(...lived).toFixed(1)}–${Math.max(...lived).toFixed(1)} s, until deploy C (started ${((cStart - switchEnd) / 1000).toFixed(1)} s after the switch) stopped ${oldColor}; close codes ${[...new Set(old.map((s) => s.closed?.code ?? 'open'))].join(',')}`);
    console.log(`  echoes after the switch: ${old.reduce((n, s, i) => n + s.echoed - echoedAtSwitch[i]!, 0)}; dropped messages: ${old.reduce((n, s) => n + s.dropped, 0)}; echoes from another colour: ${old.reduce((n, s) => n + s.strays, 0)}`);
    console.log(`  deploy C: ${drainLine}`);
    for (const [kind, ls] of Object.entries(landings)) {
      const stale = ls.filter((l) => l.at > switchEnd && l.color === oldColor).length;
      console.log(`new sessions (${kind === 'plain' ? 'no cookie' : `old cookie ${old[0]!.cookie}`}): first on ${newColor} ${fmt(first(ls, newColor))} after the switch began; on ${oldColor} after the switch returned: ${stale} of ${ls.filter((l) => l.at > switchEnd).length}`);
    }
    await Promise.all(old.map((s: EchoSession) => s.close()));
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
