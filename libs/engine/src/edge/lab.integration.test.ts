import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { loadWorkspace } from '../config/workspace';
import { createMemoryLogger } from '../log/logger';
import { bootstrapEdge } from './bootstrap';
import { createLocalEdgeHost } from './local-edge-host';
import { parseServersState } from './runtime-api';
import { requestLoop } from './testing/request-loop';

/**
 * The lab's failover drill (seed a9541f517b, test_backend_failover.sh) on
 * the local driver: two real veza-api processes (the Go binary, built here)
 * behind the real edge in the multi-instance topology, WebSocket sessions
 * and an HTTP request loop through it, instance 1 killed hard. Addresses
 * 127.79.42.x, ports 2559x.
 */
const REPO = resolve(__dirname, '../../../..');
const SUBNET = '127.79.42';
const EDGE = `${SUBNET}.1`;
const EDGE_PORT = 25591;
const API_PORT = 25590;
const HOST = 'lab.acme.test';
const POOL = 'lab_backend_api';

test('lab failover: instance 1 killed, the edge marks it DOWN, every request still 200, WebSockets move to instance 2, instance 1 returns with slow start', { timeout: 240_000 }, async (t) => {
  const root = await fs.mkdtemp(join(tmpdir(), 'veza-lab-ws-'));
  await writeLabWorkspace(root);
  const binary = join(root, 'veza-api');
  execFileSync('go', ['build', '-o', binary, './cmd/veza-api'], { cwd: join(REPO, 'apps/veza-api'), stdio: 'pipe', env: { ...process.env, GOFLAGS: '-mod=readonly' } });
  const instances = new Map<number, ChildProcess>();
  const startInstance = async (n: number) => {
    const child = spawn(binary, [], { env: { HOST: `${SUBNET}.${10 + n}`, PORT: String(API_PORT), DATABASE_URL: 'postgres://lab:lab@127.0.0.1:1/lab', PATH: process.env.PATH ?? '' }, stdio: 'ignore' });
    instances.set(n, child);
    await waitFor(`instance ${n} answers`, async () => (await get(`${SUBNET}.${10 + n}`, API_PORT, '/api/v1/health')).status === 200);
  };
  const host = createLocalEdgeHost({ workspaceRoot: root, edge: 'local-lab', stopTimeoutMs: 500 });
  const sockets: LabClient[] = [];
  t.after(async () => {
    for (const c of sockets) c.stop();
    await host.stop();
    for (const c of instances.values()) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await fs.rm(root, { recursive: true, force: true });
  });

  await startInstance(1);
  await startInstance(2);
  await bootstrapEdge({ workspace: await loadWorkspace(root), edge: 'local-lab', log: createMemoryLogger(), host });
  const servers = async () => new Map(parseServersState(await host.runtime([`show servers state ${POOL}`])).map((s) => [s.server, s]));
  await waitFor('both instances UP', async () => [...(await servers()).values()].filter((s) => s.opState === 2).length === 2);

  // Sticky sessions spread over both instances: open sockets until each instance holds some.
  for (let i = 0; i < 6; i++) sockets.push(await labClient());
  assert.ok(sockets.some((c) => c.server === 'api-1') && sockets.some((c) => c.server === 'api-2'), `sockets on ${sockets.map((c) => c.server).join(',')}`);
  const onOne = sockets.filter((c) => c.server === 'api-1');

  const loop = requestLoop(() => get(EDGE, EDGE_PORT, '/api/v1/health', HOST), 2, 50_000);
  const killedAt = performance.now();
  instances.get(1)!.kill('SIGKILL');
  await waitFor('instance 1 marked DOWN', async () => (await servers()).get('api-1')!.opState === 0, 60_000);
  const downAfter = (performance.now() - killedAt) / 1000;
  const echoesAtDown = sockets.map((c) => c.echoes);
  await waitFor('every socket echoing again on instance 2', async () => sockets.every((c, i) => c.server === 'api-2' && c.echoes > echoesAtDown[i]!), 30_000);
  loop.stop();
  const counts = await loop.done;
  assert.equal(counts.failed, 0, `failed requests: ${counts.errors.slice(0, 3).join('; ')}`);
  assert.ok(counts.ok > 0);
  assert.ok(onOne.every((c) => c.reconnects >= 1), 'the sockets of instance 1 reconnected');

  const restartedAt = performance.now();
  await startInstance(1);
  await waitFor('instance 1 UP again', async () => (await servers()).get('api-1')!.opState !== 0, 60_000);
  const upAfter = (performance.now() - restartedAt) / 1000;
  // Back UP through slow start: state "starting" (1), and a throttle below 100 % — a growing share of the traffic, not a full one at once.
  const throttle = statField(await host.runtime(['show stat']), POOL, 'api-1', 'throttle');
  assert.equal((await servers()).get('api-1')!.opState, 1);
  assert.ok(throttle !== '' && Number(throttle) < 100, `throttle of api-1 right after it came back: ${JSON.stringify(throttle)}`);
  console.log(`# lab failover: DOWN after ${downAfter.toFixed(1)} s (fall 3 x inter 5 s), ${counts.ok} requests 200 / ${counts.failed} failed, ${onOne.length} of ${sockets.length} sockets moved to api-2, UP again after ${upAfter.toFixed(1)} s with throttle ${throttle} %`);
});

async function writeLabWorkspace(root: string): Promise<void> {
  await fs.mkdir(join(root, 'infra/environments'), { recursive: true });
  await fs.mkdir(join(root, 'infra/edges'), { recursive: true });
  await fs.mkdir(join(root, 'apps/veza-api'), { recursive: true });
  await fs.writeFile(join(root, 'infra/edges/local-lab.yaml'), [
    'name: local-lab',
    'host: local',
    'topology: multi-instance',
    `http: { port: ${EDGE_PORT}, addresses: [${EDGE}] }`,
    'runtime: { socketDir: "${VEZA_EDGE_DIR}" }',
    `lab: { hosts: [${HOST}], instances: 2, prefix: veza-lab-, dnsSuffix: lxd, subnet: "${SUBNET}" }`,
    '',
  ].join('\n'));
  const declared = JSON.parse(await fs.readFile(join(REPO, 'apps/veza-api/component.json'), 'utf8')) as { run: { port: number } };
  declared.run.port = API_PORT;
  await fs.writeFile(join(root, 'apps/veza-api/component.json'), JSON.stringify(declared, null, 2));
}

interface LabClient {
  /** The instance the sticky cookie names: where the current socket lives. */
  server: string;
  echoes: number;
  reconnects: number;
  stop(): void;
}

/** A WebSocket session through the edge that echoes every 100 ms and reconnects (with its cookie) when closed, as the web client does. */
async function labClient(): Promise<LabClient> {
  let cookie = '';
  let stopped = false;
  const client: LabClient = { server: '', echoes: 0, reconnects: -1, stop: () => void (stopped = true) };
  const open = () => new Promise<void>((resolveOpen) => {
    client.reconnects++;
    const ws = new WebSocket(`ws://${EDGE}:${EDGE_PORT}/api/v1/ws`, { headers: { host: HOST, ...(cookie ? { cookie } : {}) } });
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

function get(address: string, port: number, path: string, host?: string): Promise<{ status: number }> {
  return new Promise((resolveGet, reject) => {
    const req = request({ host: address, port, path, headers: host ? { host } : {}, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolveGet({ status: res.statusCode ?? 0 }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function waitFor(what: string, ok: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
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
