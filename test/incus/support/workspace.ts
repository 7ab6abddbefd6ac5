import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { bundledMigrate } from '../../support/migrate-bundle';
import { stageArtifact, writeText as write } from '../../support/stage-artifact';
import type { Environment } from '@veza/engine/config/environment';
import { loadWorkspace, type Workspace } from '@veza/engine/config/workspace';
import { tempWorkspace } from '@veza/engine/hosts/local/testing/fixtures';
import { createMemoryLogger, createLogger, type Logger } from '@veza/engine/log/logger';
import { publishArtifact } from '@veza/engine/registry/publish-artifact';
import type { DeployOptions } from '@veza/engine/deploy/deploy';
import { httpGet, type HttpResponse } from '@veza/engine/util/http';
import { reportedRelease } from '@veza/engine/deploy/probe';

/**
 * A throw-away workspace for the real Incus tier: the repository's own
 * `incus-test` environment and its edge (copied, so the names the setup
 * script created are the ones used), and three tiny components — an api
 * with a database and migrations, a stream and a web default route — whose
 * releases the test packs and publishes with the real code. Deploys run
 * through the same engine entry points as everywhere else.
 */
export const ENV = 'incus-test';
const WORKSPACE_ROOT = join(__dirname, '..', '..', '..');

export type ComponentName = 'api' | 'stream' | 'web';

export interface Variant {
  /** false: the health path answers 503. */
  healthy?: boolean;
  schema?: string;
}

const COMPONENTS: Record<ComponentName, object> = {
  api: {
    name: 'api',
    build: { preset: 'node' },
    run: { command: ['node', 'server.js'], port: 8080, health: '/api/health', status: '/api/status', env: { required: ['DATABASE_URL'], optional: [] } },
    edge: { backend: 'api_pool', prefixes: ['/api'] },
    migrations: { command: ['node', 'migrate.js', '--up'] },
  },
  stream: {
    name: 'stream',
    build: { preset: 'node' },
    run: { command: ['node', 'server.js'], port: 8082, health: '/stream/health', status: '/stream/status' },
    edge: { backend: 'stream_pool', prefixes: ['/stream'] },
  },
  web: {
    name: 'web',
    build: { preset: 'node' },
    run: { command: ['node', 'server.js'], port: 8081, health: '/healthz', status: '/status.json' },
    edge: { backend: 'web_pool', default: true },
  },
};

/** Plain node:http (Node 18 in the test image): what each slot runs from its unpacked artifact. */
const SERVER_JS = `'use strict';
const http = require('node:http');
const os = require('node:os');
const v = require('./variant.json');
const json = (res, status, body) => { res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }); res.end(JSON.stringify(body)); };
// Who asked for the health path ("<peer address> <user-agent>" -> count): proves where the deploy probed from.
const healthProbes = {};
const server = http.createServer((req, res) => {
  const path = (req.url || '/').split('?')[0];
  if (path === v.health) {
    const who = String(req.socket.remoteAddress).replace(/^::ffff:/, '') + ' ' + (req.headers['user-agent'] || '-');
    healthProbes[who] = (healthProbes[who] || 0) + 1;
    return v.healthy === false ? json(res, 503, { status: 'broken on purpose' }) : json(res, 200, { status: 'ok' });
  }
  if (path === v.status) return json(res, 200, { component: v.component, release: process.env.VEZA_RELEASE_SHA, color: process.env.VEZA_COLOR || null, env: process.env.VEZA_ENV || null, database: Boolean(process.env.DATABASE_URL), user: os.userInfo().username, host: os.hostname(), healthProbes });
  json(res, 200, { component: v.component, path });
});
server.listen(Number(process.env.PORT), process.env.HOST);
process.on('SIGTERM', () => { server.close(() => process.exit(0)); setTimeout(() => process.exit(0), 2000).unref(); });
`;

export interface IncusWorkspace {
  root: string;
  env: Environment;
  /** Where the edge's proxy device listens on this machine. */
  edge: { host: string; port: number; hostHeader: string };
  release(sha: string, variants?: Partial<Record<ComponentName, Variant>>): Promise<void>;
  get(path: string): Promise<HttpResponse>;
  releaseAt(path: string): Promise<string | undefined>;
  options(sha?: string): Promise<DeployOptions & { lines: string[]; workspace: Workspace; env: string }>;
}

export async function incusWorkspace(t: { after(fn: () => unknown): void }, log: (line: string) => void): Promise<IncusWorkspace> {
  const tmp = await tempWorkspace(t, 'incus-tier');
  const root = tmp.dir;
  await copy(`infra/environments/${ENV}.yaml`, root);
  // The workspace loads only with the edge its environment names: copy that edge first, found from the environment's own line.
  const edgeName = (parse(await fs.readFile(join(root, `infra/environments/${ENV}.yaml`), 'utf8')) as { edge: string }).edge;
  await copy(`infra/edges/${edgeName}.yaml`, root);
  const env = (await loadWorkspace(root)).env(ENV);
  for (const [c, decl] of Object.entries(COMPONENTS)) await write(root, `apps/${c}/component.json`, JSON.stringify(decl, null, 2) + '\n');
  const url = new URL(env.publicUrl);
  const edge = { host: '127.0.0.1', port: Number(url.port), hostHeader: url.host };

  return {
    root,
    env,
    edge,
    get: (path) => httpGet({ ...edge, path, timeoutMs: 5_000 }),
    async releaseAt(path) {
      const r = await httpGet({ ...edge, path, timeoutMs: 5_000 });
      return r.status === 200 ? reportedRelease(r.body) : `HTTP ${r.status}`;
    },
    async options(sha) {
      const lines: string[] = [];
      const write = (l: string) => {
        lines.push(l);
        log(l);
      };
      const logger: Logger = createLogger({ format: 'plain', write });
      return { workspace: await loadWorkspace(root), env: ENV, ...(sha ? { sha, processEnv: { ...process.env, VEZA_RELEASE_SHA: sha } } : {}), write, log: logger, lines };
    },
    async release(sha, variants = {}) {
      for (const c of Object.keys(COMPONENTS) as ComponentName[]) {
        const decl = COMPONENTS[c] as { run: { health: string; status: string } };
        await stageArtifact(root, c, sha, {
          'server.js': SERVER_JS,
          'variant.json': JSON.stringify({ component: c, health: decl.run.health, status: decl.run.status, built: sha, schema: '0001', ...variants[c] }) + '\n',
          ...(c === 'api' ? { 'migrate.js': await bundledMigrate('itest_schema', 'node18') } : {}),
        });
        await publishArtifact({ workspace: await loadWorkspace(root), project: c, env: ENV, log: createMemoryLogger() });
      }
    },
  };
}

async function copy(rel: string, root: string): Promise<void> {
  await write(root, rel, await fs.readFile(join(WORKSPACE_ROOT, rel), 'utf8'));
}

