import { promises as fs } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { Environment } from '../../config/environment';
import { LOCAL_HOST_OCTET } from '../../hosts/naming';
import { VezaError } from '../../log/errors';
import { httpGet } from '../../util/http';
import { shellScript } from '../../util/shell-script';
import { readCacheLog, readStubStatus, renderNginxCache, type CacheStatus, type NginxCacheSpec } from '../nginx-cache';
import type { PlanStep } from '../plan';
import type { LocalMinio } from './minio';
import { livePid, onPath, readText } from './pids';

/**
 * A local environment's media cache (`data.minio.cache`): Debian's nginx
 * as a process of its own on `<subnet>.50`, its files in
 * `.veza/envs/<env>/data/minio-cache/`, in front of the environment's MinIO
 * nodes. Every new config is written beside the live one and passes
 * `nginx -t` before it replaces it; a running nginx then reloads (its
 * master keeps the old workers if the reload fails), a stopped one starts.
 */
export interface LocalCache {
  env: Environment;
  spec: NginxCacheSpec;
  root: string;
  conf: string;
  candidate: string;
  url: string;
}

const STOP_PID = shellScript('data/local/scripts/stop-pid.sh');

export function localCache(env: Environment, dataRoot: string, minio: LocalMinio): LocalCache | undefined {
  const c = minio.settings.cache;
  if (!c) return undefined;
  if (!onPath('nginx')) throw new VezaError(`nginx is not installed (data.minio.cache of ${env.name} needs it)`, 'install Debian\'s nginx (bash tools/scripts/setup.sh does)', 'MISSING_TOOL');
  const root = join(dataRoot, 'minio-cache');
  const host = `${env.local!.subnet}.${LOCAL_HOST_OCTET.cache}`;
  const spec: NginxCacheSpec = {
    listen: { host, port: c.port },
    upstream: minio.nodes.map((n) => ({ host: n.host, port: n.port })),
    status: { host, port: c.statusPort },
    // As root, nginx's workers would become `nobody`, who cannot enter the 0700 data folders: they stay the user every local service runs as.
    ...(process.getuid?.() === 0 ? { user: userInfo().username } : {}),
    cacheDir: join(root, 'cache'),
    tempDir: join(root, 'tmp'),
    pidFile: join(root, 'nginx.pid'),
    errorLog: join(root, 'error.log'),
    accessLog: join(root, 'access.log'),
    maxSize: c.maxSize,
  };
  return { env, spec, root, conf: join(root, 'nginx.conf'), candidate: join(root, 'nginx.conf.next'), url: `http://${host}:${c.port}` };
}

export interface CacheState {
  pid?: number;
  conf?: string;
}

export function inspectCache(c: LocalCache): CacheState {
  return { pid: livePid(c.spec.pidFile, 'nginx'), conf: readText(c.conf) };
}

function nginx(c: LocalCache, conf: string, args: string[]): string[] {
  return ['nginx', '-p', c.root, '-c', conf, '-e', c.spec.errorLog, ...args];
}

async function stubStatus(c: LocalCache): Promise<{ active: number; requests: number } | undefined> {
  const r = await httpGet({ host: c.spec.status.host, port: c.spec.status.port, path: '/nginx_status', timeoutMs: 2_000 }).catch(() => undefined);
  return r?.status === 200 ? readStubStatus(r.body) : undefined;
}

/** Nothing while the running nginx already has this config; otherwise the config checked by `nginx -t`, then reload or start. */
export function planCache(c: LocalCache, state: CacheState): { steps: PlanStep[]; notes: string[] } {
  const text = renderNginxCache(c.spec);
  const name = `media cache of ${c.env.name}`;
  if (state.pid && state.conf === text) return { steps: [], notes: [`${name} runs (pid ${state.pid}) with this config`] };
  const steps: PlanStep[] = [
    ...[c.root, c.spec.cacheDir, c.spec.tempDir].map((path): PlanStep => ({ kind: 'mkdir', title: `${name}: folder`, path, mode: 0o700 })),
    { kind: 'write', title: `${name}: candidate nginx.conf`, path: c.candidate, content: text, mode: 0o600 },
    { kind: 'run', title: `${name}: nginx -t on the candidate`, command: { argv: nginx(c, c.candidate, ['-q', '-t']), description: `nginx -t (${name})`, timeoutMs: 15_000 } },
    { kind: 'rename', title: `${name}: the checked config goes live`, from: c.candidate, to: c.conf },
  ];
  if (state.pid) {
    steps.push({ kind: 'run', title: `${name}: reload (pid ${state.pid})`, command: { argv: nginx(c, c.conf, ['-s', 'reload']), description: `reload ${name}`, timeoutMs: 15_000 } });
  } else {
    steps.push({ kind: 'run', title: `${name}: start nginx on ${c.spec.listen.host}:${c.spec.listen.port}`, command: { argv: nginx(c, c.conf, []), description: `start ${name}`, timeoutMs: 15_000 }, failureLog: c.spec.errorLog });
    steps.push({ kind: 'wait', title: `wait for the ${name}`, what: `stub_status of the ${name} answers on ${c.spec.status.host}:${c.spec.status.port}`, timeoutMs: 15_000, intervalMs: 100, check: async () => (await stubStatus(c)) !== undefined });
  }
  return { steps, notes: [] };
}

export function planCacheStop(c: LocalCache, state: CacheState): PlanStep[] {
  return state.pid ? [{ kind: 'run', title: `stop the media cache of ${c.env.name} (pid ${state.pid})`, command: { argv: ['sh', '-c', STOP_PID, 'stop-pid', String(state.pid)], description: 'stop the media cache', timeoutMs: 40_000 } }] : [];
}

/** The access log is read from its last 16 MiB at most (about 300 000 answers): a ratio, not an audit. */
const LOG_TAIL = 16 << 20;

export async function cacheStatus(c: LocalCache): Promise<CacheStatus> {
  return {
    url: c.url,
    running: inspectCache(c).pid !== undefined,
    ...(await stubStatus(c).then((s) => (s ? { connections: s } : {}))),
    counts: readCacheLog(await tail(c.spec.accessLog, LOG_TAIL)),
    diskBytes: await du(c.spec.cacheDir),
  };
}

async function tail(path: string, max: number): Promise<string> {
  const f = await fs.open(path, 'r').catch(() => undefined);
  if (!f) return '';
  try {
    const { size } = await f.stat();
    const length = Math.min(size, max);
    const buf = Buffer.alloc(length);
    await f.read(buf, 0, length, size - length);
    return buf.toString('utf8');
  } finally {
    await f.close();
  }
}

async function du(dir: string): Promise<number> {
  let total = 0;
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (e.isFile()) total += (await fs.stat(join(e.parentPath, e.name)).catch(() => ({ size: 0 }))).size;
  }
  return total;
}
