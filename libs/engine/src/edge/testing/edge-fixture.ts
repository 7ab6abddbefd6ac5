import { promises as fs } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Color } from '../../config/names';

/**
 * A throwaway workspace with one local edge and its environments, plus real
 * blue and green HTTP backends on loopback: what the edge tests and the
 * switch benchmark run against. Every address is in 127.<octet>.x.y, so
 * concurrent test files (and a developer's own local edge on 127.0.0.1)
 * never collide.
 */
export interface FixtureEnv {
  name: string;
  /** Third octet of this environment's loopback subnet: 127.<octet>.<sub>. */
  sub: number;
  hosts: string[];
}

export interface EdgeFixtureOptions {
  /** Second octet, unique per test file. */
  octet: number;
  envs: FixtureEnv[];
  edgePort: number;
  apply?: 'runtime' | 'reload';
  /** Extra top-level lines of the edge file (https:, acme:, sites:). */
  edgeExtra?: string[];
  /** Environments' publicUrl scheme; https makes their hosts TLS hosts. */
  scheme?: 'http' | 'https';
  /** The port in environments' publicUrl, when it is not edgePort (the edge's HTTPS port). */
  publicPort?: number;
  /** Ports of the fixture components, instead of 18601/18602 (a test file's own range). */
  portBase?: number;
}

export const FIXTURE_COMPONENTS = [
  { name: 'veza-api', port: 18601, health: '/api/v1/health', edge: { backend: 'backend_api', sticky: true, websocket: true, prefixes: ['/api/v1'] } },
  { name: 'veza-web', port: 18602, health: '/healthz', edge: { backend: 'web_pool', default: true } },
] as const;

export interface EdgeFixture {
  root: string;
  edgeAddress(env: string): string;
  edgePort: number;
  /** Removes the workspace (call after stopping the edge). */
  remove(): Promise<void>;
}

export async function createEdgeWorkspace(opts: EdgeFixtureOptions): Promise<EdgeFixture> {
  const root = await fs.mkdtemp(join(tmpdir(), 'veza-edge-ws-'));
  const subnet = (e: FixtureEnv) => `127.${opts.octet}.${e.sub}`;
  await fs.mkdir(join(root, 'infra', 'environments'), { recursive: true });
  await fs.mkdir(join(root, 'infra', 'edges'), { recursive: true });
  for (const e of opts.envs) {
    await fs.writeFile(join(root, 'infra', 'environments', `${e.name}.yaml`), [
      `name: ${e.name}`,
      'driver: local',
      `prefix: veza-${e.name}-`,
      `publicHosts: [${e.hosts.join(', ')}]`,
      `publicUrl: ${opts.scheme ?? 'http'}://${e.hosts[0]}:${opts.publicPort ?? opts.edgePort}`,
      'edge: local-edge',
      'registry: { url: "file:.veza/registry", owner: veza }',
      `local: { subnet: "${subnet(e)}" }`,
      '',
    ].join('\n'));
  }
  await fs.writeFile(join(root, 'infra', 'edges', 'local-edge.yaml'), [
    'name: local-edge',
    'host: local',
    `http: { port: ${opts.edgePort}, addresses: [${subnet(opts.envs[0]!)}.1] }`,
    'runtime: { socketDir: "${VEZA_EDGE_DIR}" }',
    `apply: ${opts.apply ?? 'runtime'}`,
    ...(opts.edgeExtra ?? []),
    '',
  ].join('\n'));
  for (const c of fixtureComponents(opts.portBase)) {
    await fs.mkdir(join(root, 'apps', c.name), { recursive: true });
    await fs.writeFile(join(root, 'apps', c.name, 'component.json'), JSON.stringify({
      name: c.name,
      build: { preset: 'node', entries: { server: 'src/main.ts' } },
      run: { command: ['node', 'server.js'], port: c.port, health: c.health },
      edge: c.edge,
    }, null, 2));
  }
  return {
    root,
    edgePort: opts.edgePort,
    edgeAddress: (name) => `${subnet(opts.envs.find((e) => e.name === name)!)}.1`,
    remove: () => fs.rm(root, { recursive: true, force: true }),
  };
}

/** Blue and green slots of every fixture component: they answer with their colour; health can be turned off per colour. */
export interface Backends {
  healthy: Record<Color, boolean>;
  /** Requests each colour answered (health checks excluded). */
  served: Record<Color, number>;
  close(): Promise<void>;
}

function fixtureComponents(portBase?: number) {
  return FIXTURE_COMPONENTS.map((c, i) => ({ ...c, port: portBase === undefined ? c.port : portBase + i }));
}

export async function startBackends(octet: number, env: FixtureEnv, portBase?: number): Promise<Backends> {
  const healthy: Record<Color, boolean> = { blue: true, green: true };
  const served: Record<Color, number> = { blue: 0, green: 0 };
  const servers: Server[] = [];
  for (const color of ['blue', 'green'] as const) {
    for (const c of fixtureComponents(portBase)) {
      const server = createServer((req, res) => {
        if (req.url === c.health) {
          res.writeHead(healthy[color] ? 200 : 503).end(healthy[color] ? 'ok' : 'down');
          return;
        }
        served[color]++;
        const answer = () => res.writeHead(200, { 'content-type': 'text/plain', 'x-color': color, 'x-component': c.name }).end(`${color} ${c.name}\n`);
        // /slow/<ms>: a request still in flight that long (the switch bench's long downloads).
        const slow = /^\/slow\/(\d+)$/.exec(req.url ?? '');
        if (slow) setTimeout(answer, Number(slow[1]));
        else answer();
      });
      server.keepAliveTimeout = 30_000;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(c.port, `127.${octet}.${env.sub}.${color === 'blue' ? 10 : 11}`, resolve);
      });
      servers.push(server);
    }
  }
  return {
    healthy,
    served,
    close: async () => {
      for (const s of servers) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    },
  };
}
