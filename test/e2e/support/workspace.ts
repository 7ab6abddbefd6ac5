import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { bundledMigrate } from '../../support/migrate-bundle';
import { goApi } from '../../support/go-api';
import { stageArtifact, writeText as write } from '../../support/stage-artifact';
import { createDataTier } from '@veza/engine/data/tier';
import { loadWorkspace, type Workspace } from '@veza/engine/config/workspace';
import { openEdgeHost } from '@veza/engine/edge/open-host';
import { loadEdgeInputs } from '@veza/engine/edge/model';
import { liveDrainedPools, openSessionsIn } from '@veza/engine/edge/live';
import type { Color } from '@veza/engine/config/names';
import { createLocalDriver } from '@veza/engine/hosts/local/driver';
import { createMemoryLogger, type Logger } from '@veza/engine/log/logger';
import { publishArtifact } from '@veza/engine/registry/publish-artifact';
import { tempWorkspace } from '@veza/engine/hosts/local/testing/fixtures';
import type { DeployOptions } from '@veza/engine/deploy/deploy';
import { httpGet, type HttpResponse } from '@veza/engine/util/http';
import { reportedRelease } from '@veza/engine/deploy/probe';

/**
 * A throw-away workspace for the local end-to-end tests: one environment
 * with its own loopback subnet (127.79.<n>), its own edge (a real HAProxy on
 * <subnet>.1), its own Postgres when the components use one, and two tiny
 * components whose releases the test packs with the real packer and
 * publishes with the real publish code — no Nx build per test. Everything
 * it starts is stopped, by pid files, after the test, pass or fail.
 */
export interface E2eWorkspace {
  root: string;
  env: string;
  publicUrl: string;
  /** Where the edge listens for this environment. */
  edge: { host: string; port: number; hostHeader: string };
  subnet: string;
  /** Packs and publishes a release of every component; `variant` changes what a component does. */
  /** Packages every component at `sha` into dist/artifacts and publishes it, unless `publish` is false. */
  release(sha: string, variants?: Partial<Record<ComponentName, Variant>>, opts?: { publish?: boolean }): Promise<void>;
  /** GET through the edge, as a browser at the public URL would (or at the preview host, with `preview`). */
  get(path: string, opts?: { preview?: boolean }): Promise<HttpResponse>;
  /** The release `path` reports through the public URL. */
  releaseAt(path: string): Promise<string | undefined>;
  /** What deploy() needs besides env and sha: the workspace (loaded now, as a command does) builds `sha` (VEZA_RELEASE_SHA) and output is kept. */
  options(sha: string): Promise<DeployOptions & { lines: string[]; write: (line: string) => void }>;
  /** workspace + env, with progress and logs kept in memory: for rollback, cleanup, status, down. */
  common(): Promise<{ workspace: Workspace; env: string; write: (l: string) => void; log: Logger; lines: string[] }>;
}

export type ComponentName = 'api' | 'web';

export interface Variant {
  /** false: the health path answers 503. */
  healthy?: boolean;
  /** Reported on the status path instead of VEZA_RELEASE_SHA (a build stamped with the wrong release). */
  release?: string;
  /** The schema version the api's migration records (a release with a new migration). */
  schema?: string;
  /**
   * A commit that moves the component's health path: component.json declares
   * it and the server answers on it (the old path then answers 404). Every
   * release() writes the declarations, so the next one without it moves back.
   */
  health?: string;
  /** Answers 500 to every n-th request on any path but its health and status paths (a release that passes its checks and fails users). */
  failEvery?: number;
  /** The real api only: migrations this release adds to the component's own (file name → SQL). */
  migrations?: Record<string, string>;
}

export interface E2eOptions {
  /** 127.79.<octet>; also picks the edge port. Unique per test file. */
  octet: number;
  /** The edge port instead of 18400 + octet. */
  port?: number;
  /** The api declares DATABASE_URL and migrations, so the deploy provisions Postgres and runs them. */
  database?: boolean;
  /** The api is the real veza-api (its Go binaries and migrate_tool, built from apps/veza-api); implies `database`. */
  realApi?: boolean;
  /** PostgreSQL in the HA topology (pg_auto_failover monitor on `port`, two nodes, PgBouncer on `pgbouncerPort`). */
  ha?: { port: number; pgbouncerPort: number };
  /** The environment has a preview host, `preview-<env>.localhost`, routed to its inactive colour. */
  preview?: boolean;
  /** The api is sticky and WebSocket-routed: the stand-in echoes at /api/ws, each echo naming its colour and release; the real api at /api/v1/ws, after a hello naming them. */
  websocket?: boolean;
  /** The environment's autoPromoteSeconds. */
  autoPromoteSeconds?: number;
}

const PORTS = { api: 18301, web: 18302 } as const;

const COMPONENTS = ({ database, websocket, realApi }: { database: boolean; websocket: boolean; realApi: boolean }): Record<ComponentName, object> => ({
  api: realApi ? {
    name: 'api',
    build: { preset: 'go', binaries: ['veza-api', 'migrate_tool'], assets: ['migrations'] },
    run: { command: ['./veza-api'], port: PORTS.api, health: '/api/v1/health', status: '/api/v1/status', env: { required: ['DATABASE_URL'], optional: [] } },
    edge: { backend: 'api_pool', prefixes: ['/api'], ...(websocket ? { sticky: true, websocket: true } : {}) },
    migrations: { command: ['./migrate_tool', '--up'], status: ['./migrate_tool', '--status'] },
  } : {
    name: 'api',
    build: { preset: 'node' },
    run: { command: ['node', 'server.js'], port: PORTS.api, health: '/api/health', status: '/api/status', env: { required: database ? ['DATABASE_URL'] : [], optional: [] } },
    edge: { backend: 'api_pool', prefixes: ['/api'], ...(websocket ? { sticky: true, websocket: true } : {}) },
    ...(database ? { migrations: { command: ['node', 'migrate.js', '--up'], status: ['node', 'migrate.js', '--status'] } } : {}),
  },
  web: {
    name: 'web',
    build: { preset: 'node' },
    run: { command: ['node', 'server.js'], port: PORTS.web, health: '/healthz', status: '/status.json' },
    edge: { backend: 'web_pool', default: true },
  },
});

/** Plain node:http, no dependencies: what the slot runs from the unpacked artifact. */
const SERVER_JS = `'use strict';
const http = require('node:http');
const v = require('./variant.json');
const release = v.release || process.env.VEZA_RELEASE_SHA;
const json = (res, status, body) => { res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }); res.end(JSON.stringify(body)); };
let served = 0;
const server = http.createServer((req, res) => {
  const path = (req.url || '/').split('?')[0];
  if (path === v.health) return v.healthy === false ? json(res, 503, { status: 'broken on purpose' }) : json(res, 200, { status: 'ok' });
  if (path === v.status) return json(res, 200, { component: v.component, release, color: process.env.VEZA_COLOR || null, env: process.env.VEZA_ENV || null, database: Boolean(process.env.DATABASE_URL) });
  if (v.failEvery && ++served % v.failEvery === 0) return json(res, 500, { error: 'failing on purpose' });
  json(res, 200, { component: v.component, release, path });
});
// A WebSocket echo at /api/ws (RFC 6455, text frames under 64 KiB), each echo prefixed with the slot's colour and release.
const sockets = new Set();
const frame = (op, data) => Buffer.concat([Buffer.from(data.length < 126 ? [0x80 | op, data.length] : [0x80 | op, 126, data.length >> 8, data.length & 255]), data]);
server.on('upgrade', (req, socket) => {
  if (!v.websocket || (req.url || '').split('?')[0] !== '/api/ws') return socket.destroy();
  const accept = require('node:crypto').createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: ' + accept + '\\r\\n\\r\\n');
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => undefined);
  let buf = Buffer.alloc(0);
  socket.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 6) {
      let len = buf[1] & 127, at = 2;
      if (len === 126) { len = buf.readUInt16BE(2); at = 4; } else if (len === 127) return socket.destroy();
      if (buf.length < at + 4 + len) return;
      const mask = buf.subarray(at, at + 4);
      const data = Buffer.from(buf.subarray(at + 4, at + 4 + len).map((b, i) => b ^ mask[i % 4]));
      const op = buf[0] & 15;
      buf = buf.subarray(at + 4 + len);
      if (op === 8) return socket.end(frame(8, data.subarray(0, 2)));
      if (op === 1) socket.write(frame(1, Buffer.from((process.env.VEZA_COLOR || '-') + ' ' + release + ' ' + data)));
    }
  });
});
server.listen(Number(process.env.PORT), process.env.HOST);
// As veza-api: open WebSockets are told 1001 "going away", so their clients reconnect elsewhere.
process.on('SIGTERM', () => { for (const s of sockets) s.end(frame(8, Buffer.from([0x03, 0xe9]))); server.close(() => process.exit(0)); server.closeIdleConnections(); setTimeout(() => process.exit(0), 2000).unref(); });
`;

export async function e2eWorkspace(t: { after(fn: () => unknown): void }, name: string, opts: E2eOptions): Promise<E2eWorkspace> {
  const tmp = await tempWorkspace(t, `e2e-${name}`);
  const root = tmp.dir;
  const env = `e2e-${name}`;
  const subnet = `127.79.${opts.octet}`;
  const port = opts.port ?? 18400 + opts.octet;
  const publicUrl = `http://${env}.localhost:${port}`;
  const realApi = opts.realApi ?? false;
  const database = (opts.database ?? false) || realApi;
  const websocket = opts.websocket ?? false;
  const components = () => COMPONENTS({ database, websocket, realApi });

  await write(root, `infra/environments/${env}.yaml`, [
    `name: ${env}`,
    'driver: local',
    `prefix: veza-${env}-`,
    `publicHosts: [${env}.localhost]`,
    `publicUrl: ${publicUrl}`,
    ...(opts.preview ? [`previewHosts: [preview-${env}.localhost]`] : []),
    ...(opts.autoPromoteSeconds === undefined ? [] : [`autoPromoteSeconds: ${opts.autoPromoteSeconds}`]),
    `edge: ${env}-edge`,
    'registry: { url: "file:.veza/registry", owner: veza }',
    `local: { subnet: ${subnet} }`,
    'health: { timeoutMs: 4000, intervalMs: 50 }',
    'verify: { retries: 10, intervalMs: 100 }',
    ...(opts.ha ? [`data: { postgres: { port: ${opts.ha.port}, topology: ha, ha: { nodes: 2, pgbouncer: { port: ${opts.ha.pgbouncerPort}, poolSize: 10, reservePoolSize: 2 } } } }`] : []),
    '',
  ].join('\n'));
  await write(root, `infra/edges/${env}-edge.yaml`, [
    `name: ${env}-edge`,
    'host: local',
    `http: { port: ${port}, addresses: [${subnet}.1] }`,
    'runtime: { socketDir: "${VEZA_EDGE_DIR}" }',
    'apply: runtime',
    '',
  ].join('\n'));
  for (const [c, decl] of Object.entries(components())) await write(root, `apps/${c}/component.json`, JSON.stringify(decl, null, 2) + '\n');

  tmp.defer(() => stopEverything(root, env));

  return {
    root,
    env,
    publicUrl,
    edge: { host: `${subnet}.1`, port, hostHeader: `${env}.localhost:${port}` },
    subnet,
    get: (path, o = {}) => httpGet({ host: `${subnet}.1`, port, hostHeader: `${o.preview ? 'preview-' : ''}${env}.localhost:${port}`, path, timeoutMs: 5_000 }),
    async releaseAt(path) {
      const r = await httpGet({ host: `${subnet}.1`, port, hostHeader: `${env}.localhost:${port}`, path, timeoutMs: 5_000 });
      return r.status === 200 ? reportedRelease(r.body) : `HTTP ${r.status}`;
    },
    async options(sha) {
      const lines: string[] = [];
      return { workspace: await loadWorkspace(root), env, sha, processEnv: { ...process.env, VEZA_RELEASE_SHA: sha }, write: (l: string) => lines.push(l), log: createMemoryLogger(), lines };
    },
    async common() {
      const lines: string[] = [];
      return { workspace: await loadWorkspace(root), env, write: (l: string) => lines.push(l), log: createMemoryLogger(), lines };
    },
    async release(sha, variants = {}, { publish = true } = {}) {
      for (const c of Object.keys(components()) as ComponentName[]) {
        const base = components()[c] as { run: { health: string; status: string } };
        const decl = { ...base, run: { ...base.run, health: variants[c]?.health ?? base.run.health } };
        await write(root, `apps/${c}/component.json`, JSON.stringify(decl, null, 2) + '\n');
        if (c === 'api' && realApi) {
          const go = await goApi();
          const migrations = { ...go.migrations, ...variants.api?.migrations };
          await stageArtifact(root, c, sha, {
            'veza-api': { executable: go.binaries['veza-api'] },
            migrate_tool: { executable: go.binaries.migrate_tool },
            ...Object.fromEntries(Object.entries(migrations).map(([f, sql]) => [`migrations/${f}`, sql])),
          });
        } else await stageArtifact(root, c, sha, {
          'server.js': SERVER_JS,
          // The sha in the content gives every release its own bytes, like a real build stamped with it.
          'variant.json': JSON.stringify({ component: c, status: decl.run.status, built: sha, schema: '0001', ...(websocket ? { websocket } : {}), ...variants[c], health: decl.run.health }) + '\n',
          ...(c === 'api' && database ? { 'migrate.js': await bundledMigrate('e2e_schema', 'node20') } : {}),
        });
        if (publish) await publishArtifact({ workspace: await loadWorkspace(root), project: c, env, log: createMemoryLogger() });
      }
    },
  };
}

/** Sets one top-level key of the environment's edge file (the next command reads it), replacing the key's line if present. */
export async function setEdgeSetting(ws: E2eWorkspace, key: string, value: string | number): Promise<void> {
  const file = join(ws.root, 'infra/edges', `${ws.env}-edge.yaml`);
  const text = (await fs.readFile(file, 'utf8')).replace(new RegExp(`^${key}: .*\\n`, 'm'), '');
  await fs.writeFile(file, `${text}${key}: ${value}\n`);
}

/** The sessions the running edge holds to one colour of the environment in the pools a deploy drains (`show stat` scur). */
export async function edgeSessions(ws: E2eWorkspace, color: Color): Promise<number> {
  const workspace = await loadWorkspace(ws.root);
  const host = openEdgeHost(workspace, workspace.edge(`${ws.env}-edge`));
  return openSessionsIn(host, await liveDrainedPools(host, loadEdgeInputs(workspace, workspace.env(ws.env).edge), ws.env), color);
}

/** Slots, Postgres and the edge of the environment, each through its own pid bookkeeping. */
export async function stopEverything(root: string, envName: string): Promise<void> {
  const workspace = await loadWorkspace(root);
  const env = workspace.env(envName);
  const errors: unknown[] = [];
  const attempt = async (fn: () => Promise<unknown>) => fn().catch((e) => errors.push(e));
  await attempt(() => createLocalDriver({ workspaceRoot: root, env: env.name, stopTimeoutMs: 3_000 }).stopAll());
  await attempt(() => createDataTier(env, { workspaceRoot: root, log: createMemoryLogger() }).stop());
  await attempt(async () => openEdgeHost(workspace, workspace.edge(env.edge)).stop());
  if (errors.length) throw errors[0];
}

