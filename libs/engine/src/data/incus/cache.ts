import type { Environment } from '../../config/environment';
import * as cli from '../../hosts/incus/cli';
import type { IncusClient } from '../../hosts/incus/client';
import type { IncusSettings } from '../../hosts/incus/host';
import type { Command } from '../../ports/process';
import { shellScript } from '../../util/shell-script';
import { readCacheLog, readStubStatus, renderNginxCache, type CacheStatus, type NginxCacheSpec } from '../nginx-cache';
import type { PlanStep } from '../plan';
import { incusMinioNodes } from './minio-distributed';
import { cacheContainer, PORTS, parseFacts, planContainer, restartStep, serviceHost, sha256, writeConfigStep, type PlanContext } from './services';

/**
 * The media cache (`data.minio.cache`) on Incus: one container
 * `<prefix>minio-cache` with Debian's nginx (and curl, which reads its
 * stub_status), run by Debian's unit from the config the local tier renders
 * too (`nginx-cache.ts`), in front of the environment's MinIO nodes by their
 * DNS names. Every new config is written beside the live one, passes
 * `nginx -t`, and only then replaces it; a running nginx reloads (its master
 * keeps the old workers if the reload fails), a stopped one starts.
 */
const PACKAGES = ['nginx', 'curl'] as const;
const CONF = '/etc/nginx/nginx.conf';
const CANDIDATE = '/etc/nginx/nginx.conf.next';
const ROOT = '/var/cache/veza-media';
const INSPECT = shellScript('data/incus/scripts/inspect-cache.sh');
/** $1 the cache folder, $2 the stub_status port, $3 the access log: what cacheStatus reads, in sections. */
const CACHE_STATUS = shellScript('data/incus/scripts/cache-status.sh');
/** Mirrors the local tier's cap: the access log is read from its last 16 MiB at most. */
const LOG_TAIL = 16 << 20;

/** nginx listens on every address of its container; stub_status on its loopback only; workers as Debian's www-data. */
export function incusCacheSpec(env: Environment, settings: IncusSettings): NginxCacheSpec {
  const m = env.data.minio!;
  const c = m.cache!;
  const upstream = m.topology === 'distributed'
    ? incusMinioNodes(env, settings, m).map((n) => ({ host: n.host, port: n.port }))
    : [{ host: serviceHost(env, settings, 'minio'), port: PORTS.minio }];
  return {
    listen: { host: '0.0.0.0', port: c.port },
    upstream,
    status: { host: '127.0.0.1', port: c.statusPort },
    user: 'www-data',
    cacheDir: `${ROOT}/cache`,
    tempDir: `${ROOT}/tmp`,
    // Where Debian's nginx.service expects them (PIDFile=, logrotate).
    pidFile: '/run/nginx.pid',
    errorLog: '/var/log/nginx/error.log',
    accessLog: '/var/log/nginx/veza-cache.log',
    maxSize: c.maxSize,
  };
}

export interface CacheState {
  exists: boolean;
  running: boolean;
  /** inspect-cache.sh's lines: installed, conf (sha256 of the live nginx.conf), active. */
  facts: Record<string, string>;
}

/** What the cache's container runs to print its facts. */
export const INSPECT_CACHE_ARGV: readonly string[] = ['sh', '-c', INSPECT, 'veza'];

export function planIncusCache(ctx: PlanContext, spec: NginxCacheSpec, state: CacheState): { steps: PlanStep[]; notes: string[] } {
  const ct = cacheContainer(ctx.env);
  const steps = planContainer(ctx, { container: ct, data: `${ctx.env.name}/minio-cache`, exists: state.exists, running: state.running, installed: state.facts.installed === '1' }, PACKAGES);
  const text = renderNginxCache(spec);
  const exec = (argv: string[], title: string) => run(title, cli.exec(ctx.client.scope, ct, argv, { description: title, timeoutMs: 60_000 }));
  if (state.facts.conf === sha256(text)) {
    if (state.facts.active === 'active') return { steps, notes: [`media cache in ${ct} runs with this config`] };
    return { steps: [...steps, restartStep(ctx, ct, 'nginx')], notes: [] };
  }
  steps.push(
    exec(['install', '-d', '-o', spec.user!, '-m', '0700', spec.cacheDir, spec.tempDir], `create ${ct}'s cache folders`),
    writeConfigStep(ctx, ct, CANDIDATE, text, { owner: 'root:root', mode: '0644', title: `write ${ct}'s candidate nginx.conf`, secret: false }),
    exec(['nginx', '-t', '-q', '-c', CANDIDATE], `nginx -t on ${ct}'s candidate`),
    exec(['mv', '-f', CANDIDATE, CONF], `the checked config goes live in ${ct}`),
    state.facts.active === 'active' ? exec(['systemctl', 'reload', 'nginx'], `reload nginx in ${ct}`) : restartStep(ctx, ct, 'nginx'),
  );
  return { steps, notes: [] };
}

/** Hit ratio from the access log, connections from stub_status, bytes under the cache folder: all read inside the container. */
export async function cacheStatusOnIncus(client: IncusClient, env: Environment, settings: IncusSettings): Promise<CacheStatus> {
  const ct = cacheContainer(env);
  const spec = incusCacheSpec(env, settings);
  const command = cli.exec(client.scope, ct, ['sh', '-c', CACHE_STATUS, 'veza', spec.cacheDir, String(spec.status.port), spec.accessLog, String(LOG_TAIL)], { description: `read the media cache's state in ${ct}`, timeoutMs: 30_000 });
  // Not client.run: a stopped container is this cache's state, not an unreachable daemon.
  const res = await client.runner.run(command, { check: false }).catch(() => undefined);
  const [head = '', stub = '', log = ''] = (res?.exitCode === 0 ? res.stdout : '').split(/^--- \w+\n/m);
  const facts = parseFacts(head);
  const connections = readStubStatus(stub);
  return {
    url: `http://${ct}.${settings.dnsSuffix}:${spec.listen.port}`,
    running: facts.active === 'active',
    ...(connections ? { connections } : {}),
    counts: readCacheLog(log),
    diskBytes: Number(facts.disk) || 0,
  };
}

const run = (title: string, command: Command): PlanStep => ({ kind: 'run', title, command });
