import { posix } from 'node:path';
import type { Environment } from '../../config/environment';
import * as cli from '../../hosts/incus/cli';
import type { IncusClient } from '../../hosts/incus/client';
import type { IncusSettings } from '../../hosts/incus/host';
import { VezaError } from '../../log/errors';
import type { Command } from '../../ports/process';
import { shellScript } from '../../util/shell-script';
import type { PlanStep } from '../plan';
import {
  askSentinels, redisSettingsStamp, renderRedisConf, renderSentinelConf, sentinelQuery, sentinelsMaster, type RedisNode, type RedisSettings, type SentinelStatus,
} from '../redis-topology';
import { planContainer, redisNodeContainer, redisReadyStep, restartStep, sha256, writeConfigStep, type PlanContext } from './services';

/**
 * Seed 001's Sentinel topology on Incus: `nodes` containers
 * `<prefix>redis-1..N`, each Debian's redis-server and redis-sentinel under
 * systemd, the first the initial master. The files come from the renderers
 * the local tier uses (`redis-topology.ts`); nodes are known by their
 * container's DNS name on the bridge, which every container and slot resolves,
 * so what Sentinel announces stays true when a container's address changes.
 * Sentinel owns its file once it runs, and a failover moves `replicaof`:
 * provision writes sentinel.conf only where it is not Veza's yet or its
 * settings changed, and then with its sentinel stopped and the master the
 * sentinels' files name, so it never undoes a failover.
 */
export interface IncusRedisNode extends RedisNode {
  container: string;
}

const PACKAGES = ['redis-server', 'redis-sentinel'] as const;
const REDIS_CONF = '/etc/redis/redis.conf';
const SENTINEL_CONF = '/etc/redis/sentinel.conf';
/** sha256 of the settings the files were rendered from (not of the files, which Sentinel rewrites). */
const STAMP = '/etc/redis/veza-settings.sha256';

/** Debian's unit, amended where Sentinel needs it (a drop-in, so package upgrades keep both). */
const SENTINEL_DROP_IN = '/etc/systemd/system/redis-sentinel.service.d/veza.conf';
export const SENTINEL_UNIT = [
  '# written by veza: Sentinel resolves the nodes\' DNS names when it loads its file. Started with a container, before the',
  '# bridge\'s DNS answers, it exits: it waits for the network, and systemd retries it without a start limit.',
  '[Unit]',
  'Wants=network-online.target',
  'After=network-online.target',
  'StartLimitIntervalSec=0',
  '',
  '[Service]',
  'RestartSec=2',
  '',
].join('\n');

const INSPECT = shellScript('data/incus/scripts/inspect-redis-sentinel.sh');
/** Runs its arguments with the password from stdin in REDISCLI_AUTH. */
const WITH_AUTH = shellScript('data/incus/scripts/with-redis-auth.sh');
/** The local tier's bounded wait until a sentinel knows its replicas and peers. */
const SENTINEL_READY = shellScript('data/local/scripts/sentinel-ready.sh');

export function sentinelSettings(env: Environment): RedisSettings | undefined {
  const s = env.data.redis;
  return s?.topology === 'sentinel' ? s : undefined;
}

/** Redis and its sentinel listen on every address of the container; the DNS name is what everyone else uses. */
export function incusRedisNodes(env: Environment, settings: IncusSettings, s: RedisSettings): IncusRedisNode[] {
  return Array.from({ length: s.sentinel.nodes }, (_, index): IncusRedisNode => {
    const container = redisNodeContainer(env, index);
    return {
      index,
      container,
      host: `${container}.${settings.dnsSuffix}`,
      bind: '0.0.0.0',
      port: s.port,
      sentinelPort: s.sentinel.port,
      // Where Debian's units expect them (PIDFile=, ReadWritePaths=).
      files: { dir: '/var/lib/redis', pidfile: '/run/redis/redis-server.pid', logfile: '/var/log/redis/redis-server.log', sentinelPidfile: '/run/sentinel/redis-sentinel.pid', sentinelLogfile: '/var/log/redis/redis-sentinel.log' },
    };
  });
}

export interface SentinelNodeState {
  exists: boolean;
  running: boolean;
  /** INSPECT's lines: installed, redis, sentinel (systemd states), stamp, monitor (the file's `sentinel monitor` line). */
  facts: Record<string, string>;
}

/** What a node's container runs to print its facts. */
export function inspectNodeArgv(s: RedisSettings): string[] {
  return ['sh', '-c', INSPECT, 'veza', s.sentinel.masterName];
}

/**
 * Every node's steps, phase by phase so each finds what it needs: all
 * containers up with their packages (a replica's `replicaof` and a
 * sentinel's `monitor` name the others), then the servers, then the
 * sentinels, then a bounded wait until each sentinel knows every replica and
 * peer (until then a failover finds "no good slave"). Nothing when all run
 * with the current settings. `again`: apply these steps and plan once more.
 */
export function planRedisSentinel(ctx: PlanContext, s: RedisSettings, nodes: readonly IncusRedisNode[], states: readonly SentinelNodeState[]): { steps: PlanStep[]; notes: string[]; again?: boolean } {
  const password = ctx.secrets.redis!;
  const stamp = redisSettingsStamp(s, nodes, password);
  const master = sentinelsMaster(s, nodes, states.map((st) => st.facts.monitor || undefined));
  const notes: string[] = [];
  const containers = nodes.flatMap((n, i) => {
    const st = states[i]!;
    return planContainer(ctx, { container: n.container, data: `${ctx.env.name}/redis-${n.index + 1}`, exists: st.exists, running: st.running, installed: st.facts.installed === '1' }, PACKAGES);
  });
  // A stopped container's files cannot be read: start it, then plan again from what it holds, rather than overwrite its sentinel's state.
  if (states.some((st) => st.exists && !st.running)) return { steps: containers, notes: ['stopped redis containers start first; the rest is planned from what they hold'], again: true };
  const units = nodes.flatMap((n, i): PlanStep[] => {
    if (states[i]!.facts.unit === sha256(SENTINEL_UNIT)) return [];
    const exec = (argv: string[], title: string) => run(title, cli.exec(ctx.client.scope, n.container, argv, { description: title, timeoutMs: 60_000 }));
    return [
      exec(['mkdir', '-p', posix.dirname(SENTINEL_DROP_IN)], `create ${n.container}'s redis-sentinel drop-in folder`),
      writeConfigStep(ctx, n.container, SENTINEL_DROP_IN, SENTINEL_UNIT, { owner: 'root:root', mode: '0644', title: `write ${n.container}'s redis-sentinel drop-in (after the network, restarted without limit)`, secret: false }),
      exec(['systemctl', 'daemon-reload'], `reload systemd in ${n.container}`),
    ];
  });
  const secretFile = (n: IncusRedisNode, path: string, content: string, title: string) => writeConfigStep(ctx, n.container, path, content, { owner: 'redis:redis', mode: '0600', title, secret: true });

  const servers = nodes.flatMap((n, i): PlanStep[] => {
    const st = states[i]!;
    const isMaster = n.host === master.host && n.port === master.port;
    if (st.exists && st.facts.stamp === stamp) return st.facts.redis === 'active' ? [] : [restartStep(ctx, n.container, 'redis-server'), redisReadyStep(ctx, n.container, n.port, password)];
    return [
      secretFile(n, REDIS_CONF, renderRedisConf(s, n, password, isMaster ? undefined : master, { daemonize: false }), `write ${n.container}'s redis.conf${isMaster ? ' (master)' : ` (replica of ${master.host}:${master.port})`}`),
      restartStep(ctx, n.container, 'redis-server'),
      redisReadyStep(ctx, n.container, n.port, password),
    ];
  });

  const sentinels = nodes.flatMap((n, i): PlanStep[] => {
    const st = states[i]!;
    const ours = Boolean(st.exists && st.facts.monitor);
    if (ours && st.facts.stamp === stamp) {
      if (st.facts.sentinel === 'active') {
        notes.push(`sentinel in ${n.container} runs; its file is its own`);
        return [];
      }
      notes.push(`sentinel in ${n.container} restarts from its own file`);
      return [restartStep(ctx, n.container, 'redis-sentinel')];
    }
    // Not Veza's file yet (Debian's default monitors 127.0.0.1) or older settings: stopped first, so Sentinel cannot rewrite it under us.
    return [
      run(`stop redis-sentinel in ${n.container}`, cli.exec(ctx.client.scope, n.container, ['systemctl', 'stop', 'redis-sentinel'], { description: `stop redis-sentinel in ${n.container}`, timeoutMs: 60_000 })),
      secretFile(n, SENTINEL_CONF, renderSentinelConf(s, n, password, master, { daemonize: false }), `write ${n.container}'s sentinel.conf (monitors ${master.host}:${master.port})`),
      restartStep(ctx, n.container, 'redis-sentinel'),
    ];
  });

  const changed = [...servers, ...sentinels];
  if (!changed.length) return { steps: [...containers, ...units], notes };
  const others = String(nodes.length - 1);
  const ready = nodes.map((n) => run(`wait until the sentinel in ${n.container} knows ${others} replicas and ${others} sentinels`, authed(ctx.client.scope, n, password, ['sh', '-c', SENTINEL_READY, 'sentinel-ready', '127.0.0.1', String(n.sentinelPort), s.sentinel.masterName, others, others], `wait for the sentinel in ${n.container}`, 40_000)));
  const stamps = nodes.map((n) => writeConfigStep(ctx, n.container, STAMP, `${stamp}\n`, { owner: 'root:root', mode: '0600', title: `write ${n.container}'s settings stamp`, secret: false }));
  return { steps: [...containers, ...units, ...changed, ...ready, ...stamps], notes };
}

/** What infra-data:status shows: every sentinel asked from inside its container (redis-cli need not be on the runner). */
export function sentinelStatusOnIncus(client: IncusClient, s: RedisSettings, nodes: readonly IncusRedisNode[], password: string): Promise<SentinelStatus> {
  return askSentinels(s.sentinel.masterName, nodes, async (i, args) => {
    const n = nodes[i]!;
    const q = sentinelQuery({ host: '127.0.0.1', port: n.sentinelPort }, password, args);
    // Not client.run: redis-cli's own "Connection refused" would read as the Incus daemon's.
    const res = await client.runner.run(authed(client.scope, n, password, q.argv, q.description, q.timeoutMs), { check: false });
    if (res.exitCode !== 0) throw new VezaError(`the sentinel in ${n.container} does not answer (${res.stderr.trim().split('\n').pop() || `exit ${res.exitCode}`})`, `look at journalctl -u redis-sentinel in ${n.container}`, 'COMMAND_FAILED');
    return res.stdout;
  });
}

/** Whether redis in `container` answers PONG to the password; false when the container or redis does not answer. */
export async function redisPing(client: IncusClient, container: string, port: number, password: string): Promise<boolean> {
  const command = cli.exec(client.scope, container, ['sh', '-c', WITH_AUTH, 'with-redis-auth', 'redis-cli', '--no-auth-warning', '-p', String(port), 'PING'], { description: `ping redis in ${container}`, timeoutMs: 10_000, input: `${password}\n` });
  const res = await client.run(command, { check: false }).catch(() => undefined);
  return res?.stdout.trim() === 'PONG';
}

/** `argv` in node `n`'s container with the password in REDISCLI_AUTH, fed on stdin. */
function authed(scope: cli.IncusScope, n: IncusRedisNode, password: string, argv: string[], description: string, timeoutMs: number): Command {
  return cli.exec(scope, n.container, ['sh', '-c', WITH_AUTH, 'with-redis-auth', ...argv], { description, timeoutMs, input: `${password}\n` });
}

const run = (title: string, command: Command): PlanStep => ({ kind: 'run', title, command });
