import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { CHECK } from '../render';
import { parseServersState } from '../runtime-api';
import { requestLoop } from './request-loop';
import { get } from './tls-probe';

/**
 * The lab's failover drill (seed a9541f517b, test_backend_failover.sh),
 * shared by the local test (processes) and the Incus one (containers): two
 * instances of the api behind the edge's lab pool, WebSocket sessions and an
 * HTTP request loop through the edge, instance 1 stopped hard; then the
 * seed's criteria, asserted here: DOWN within fall × inter, every request
 * 200, every socket echoing again on instance 2, instance 1 back UP through
 * slow start. Returns what it measured.
 */
export interface LabDrillTarget {
  /** Where this process reaches the edge's lab frontend, and the lab's host name. */
  edge: { address: string; port: number; host: string };
  /** The api's lab backend, e.g. lab_backend_api. */
  pool: string;
  /** One Runtime API command on the edge, its answer. */
  runtime(command: string): Promise<string>;
  /** Stops instance 1 hard: SIGKILL, `incus stop --force`. */
  kill(): Promise<void>;
  /** Starts instance 1 again; resolves once it answers on its own. */
  restart(): Promise<void>;
  /**
   * How long one request may stay silent. A request the edge sent to the
   * dead instance waits for its retry elsewhere; it fails the drill only if it
   * ends in anything but 200.
   */
  requestTimeoutMs?: number;
  /** Waits for the DOWN and the UP; the assertion on the DOWN is fall × inter regardless. */
  waitMs?: number;
}

export interface LabDrillFigures {
  /** Seconds from the stop to the end of the first read that saw instance 1 DOWN. */
  downAfterS: number;
  /** Seconds from the stop to the start of the last read that still saw it UP: the DOWN came between the two. */
  upSeenS: number;
  /**
   * The seed's fall × inter, each failed check counted with its timeout: a process killed refuses the
   * check at once, a container stopped hard lets it run to its connect timeout.
   */
  downBoundS: number;
  ok: number;
  failed: number;
  /** The slowest request of the loop, in ms (those the edge retried on instance 2). */
  slowestMs: number;
  sockets: number;
  moved: number;
  /** Seconds from the stop until every socket echoed again on instance 2. */
  socketsBackAfterS: number;
  /** Seconds from the restart call until the edge marked instance 1 UP again. */
  upAfterS: number;
  /** Instance 1's share of its full weight right after it came back (slow start), in %. */
  throttle: number;
}

export async function labFailoverDrill(target: LabDrillTarget): Promise<LabDrillFigures> {
  const { edge, pool } = target;
  const waitMs = target.waitMs ?? 60_000;
  const servers = async () => new Map(parseServersState(await target.runtime(`show servers state ${pool}`)).map((s) => [s.server, s]));
  await waitFor('both instances UP', async () => [...(await servers()).values()].filter((s) => s.opState === 2).length === 2, waitMs);

  const sockets: LabClient[] = [];
  let loop: ReturnType<typeof requestLoop> | undefined;
  try {
    // Sticky sessions spread over both instances: open sockets until each instance holds some.
    for (let i = 0; i < 6; i++) sockets.push(await labClient(edge));
    assert.ok(sockets.some((c) => c.server === 'api-1') && sockets.some((c) => c.server === 'api-2'), `sockets on ${sockets.map((c) => c.server).join(',')}`);
    const onOne = sockets.filter((c) => c.server === 'api-1');

    let slowestMs = 0;
    let killedAt = Infinity;
    /** When each failed request ended, in s after the stop. */
    const failedAtS: number[] = [];
    loop = requestLoop(async () => {
      const t0 = performance.now();
      try {
        const r = await get('http', edge.address, edge.port, '/api/v1/health', edge.host, undefined, target.requestTimeoutMs);
        if (r.status !== 200) failedAtS.push((performance.now() - killedAt) / 1000);
        return r;
      } catch (e) {
        failedAtS.push((performance.now() - killedAt) / 1000);
        throw e;
      } finally {
        slowestMs = Math.max(slowestMs, performance.now() - t0);
      }
    }, 2, 50_000);
    killedAt = performance.now();
    await target.kill();
    // The DOWN is timed from when the stop has finished: `incus stop --force` takes about a second, during which
    // the instance still answers its checks (run 19 of the tier saw it UP 17.9 s after the command began).
    const stoppedAt = performance.now();
    // A read of the state takes a while (on Incus an `incus exec`): the DOWN came after the start of the last
    // read that saw api-1 up, and before the end of the first that saw it down.
    let lastUpReadAt = stoppedAt;
    await waitFor('instance 1 marked DOWN', async () => {
      const readStart = performance.now();
      const down = (await servers()).get('api-1')!.opState === 0;
      if (!down) lastUpReadAt = readStart;
      return down;
    }, waitMs);
    const downAfterS = (performance.now() - stoppedAt) / 1000;
    const upSeenS = (lastUpReadAt - stoppedAt) / 1000;
    const echoesAtDown = sockets.map((c) => c.echoes);
    await waitFor('every socket echoing again on instance 2', async () => sockets.every((c, i) => c.server === 'api-2' && c.echoes > echoesAtDown[i]!), 30_000);
    const socketsBackAfterS = (performance.now() - killedAt) / 1000;
    loop.stop();
    const counts = await loop.done;
    const downBoundS = CHECK.fall * (CHECK.interS + CHECK.labTimeoutS);
    assert.ok(upSeenS <= downBoundS, `instance 1 still UP ${upSeenS.toFixed(1)} s after the stop, beyond fall ${CHECK.fall} × (inter ${CHECK.interS} s + check timeout ${CHECK.labTimeoutS} s)`);
    assert.equal(counts.failed, 0, `failed requests: ${counts.errors.slice(0, 3).join('; ')}, at ${failedAtS.map((x) => x.toFixed(2)).join(', ')} s after the stop (DOWN at ${downAfterS.toFixed(2)} s)`);
    assert.ok(counts.ok > 0);
    assert.ok(onOne.every((c) => c.reconnects >= 1), 'the sockets of instance 1 reconnected');

    const restartedAt = performance.now();
    await target.restart();
    await waitFor('instance 1 UP again', async () => (await servers()).get('api-1')!.opState !== 0, waitMs);
    const upAfterS = (performance.now() - restartedAt) / 1000;
    // Back UP through slow start: state "starting" (1), and a throttle below 100 % — a growing share of the traffic, not a full one at once.
    const throttle = statField(await target.runtime('show stat'), pool, 'api-1', 'throttle');
    assert.equal((await servers()).get('api-1')!.opState, 1);
    assert.ok(throttle !== '' && Number(throttle) < 100, `throttle of api-1 right after it came back: ${JSON.stringify(throttle)}`);
    return { downAfterS, upSeenS, downBoundS, ok: counts.ok, failed: counts.failed, slowestMs, sockets: sockets.length, moved: onOne.length, socketsBackAfterS, upAfterS, throttle: Number(throttle) };
  } finally {
    loop?.stop();
    for (const c of sockets) c.stop();
  }
}

export function formatDrill(f: LabDrillFigures): string {
  return `DOWN between ${f.upSeenS.toFixed(1)} and ${f.downAfterS.toFixed(1)} s after the stop (bound ${f.downBoundS} s: fall ${CHECK.fall} x (inter ${CHECK.interS} s + timeout ${CHECK.labTimeoutS} s)), ${f.ok} requests 200 / ${f.failed} failed (slowest ${Math.round(f.slowestMs)} ms), `
    + `${f.moved} of ${f.sockets} sockets moved to api-2, all echoing there ${f.socketsBackAfterS.toFixed(1)} s after the stop, UP again ${f.upAfterS.toFixed(1)} s after the restart with throttle ${f.throttle} %`;
}

interface LabClient {
  /** The instance the sticky cookie names: where the current socket lives. */
  server: string;
  echoes: number;
  reconnects: number;
  stop(): void;
}

/** A WebSocket session through the edge that echoes every 100 ms and reconnects (with its cookie) when closed, as the web client does. */
async function labClient(edge: LabDrillTarget['edge']): Promise<LabClient> {
  let cookie = '';
  let stopped = false;
  const client: LabClient = { server: '', echoes: 0, reconnects: -1, stop: () => void (stopped = true) };
  const open = () => new Promise<void>((resolveOpen) => {
    client.reconnects++;
    const ws = new WebSocket(`ws://${edge.address}:${edge.port}/api/v1/ws`, { headers: { host: edge.host, ...(cookie ? { cookie } : {}) } });
    let timer: NodeJS.Timeout | undefined;
    ws.on('upgrade', (res) => {
      const set = [res.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('veza_srv_lab='));
      if (set) cookie = set.split(';')[0]!;
      client.server = cookie.split('=')[1] ?? '';
    });
    ws.on('open', () => {
      timer = setInterval(() => ws.send('ping'), 100);
      resolveOpen();
    });
    // The hello that opens each session is not an echo.
    ws.on('message', (data) => {
      if (String(data) === 'ping') client.echoes++;
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      clearInterval(timer);
      if (!stopped) setTimeout(() => void open(), 50);
      else resolveOpen();
    });
    const stop = client.stop;
    client.stop = () => {
      stop();
      ws.terminate();
    };
  });
  await open();
  return client;
}

export async function waitFor(what: string, ok: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await ok().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

function statField(csv: string, backend: string, server: string, field: string): string {
  const lines = csv.split('\n').filter(Boolean);
  const head = lines[0]!.replace(/^# /, '').split(',');
  const row = lines.map((l) => l.split(',')).find((f) => f[0] === backend && f[1] === server);
  return row?.[head.indexOf(field)] ?? '';
}
