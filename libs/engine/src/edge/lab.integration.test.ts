import { test } from 'node:test';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadWorkspace } from '../config/workspace';
import { createMemoryLogger } from '../log/logger';
import { bootstrapEdge } from './bootstrap';
import { createLocalEdgeHost } from './local-edge-host';
import { formatDrill, labFailoverDrill, waitFor } from './testing/lab-drill';
import { get } from './testing/tls-probe';

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
    await waitFor(`instance ${n} answers`, async () => (await get('http', `${SUBNET}.${10 + n}`, API_PORT, '/api/v1/health', `${SUBNET}.${10 + n}`)).status === 200);
  };
  const host = createLocalEdgeHost({ workspaceRoot: root, edge: 'local-lab', stopTimeoutMs: 500 });
  t.after(async () => {
    await host.stop();
    for (const c of instances.values()) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await fs.rm(root, { recursive: true, force: true });
  });

  await startInstance(1);
  await startInstance(2);
  await bootstrapEdge({ workspace: await loadWorkspace(root), edge: 'local-lab', log: createMemoryLogger(), host });
  const figures = await labFailoverDrill({
    edge: { address: EDGE, port: EDGE_PORT, host: HOST },
    pool: POOL,
    runtime: (command) => host.runtime([command]),
    kill: async () => void instances.get(1)!.kill('SIGKILL'),
    restart: () => startInstance(1),
  });
  console.log(`# lab failover (local): ${formatDrill(figures)}`);
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
