import { join } from 'node:path';
import type { Environment } from '../../config/environment';
import { LOCAL_HOST_OCTET } from '../../hosts/naming';
import { VezaError } from '../../log/errors';
import type { Command, ProcessRunner } from '../../ports/process';
import { shellScript } from '../../util/shell-script';
import type { PlanStep } from '../plan';
import { livePid, onPath, readText } from './pids';
import { askSentinels, redisNodeCount, redisSettingsStamp, renderRedisConf, renderSentinelConf, sentinelQuery, sentinelsMaster, type Endpoint, type RedisNode, type RedisSettings } from '../redis-topology';
import type { ServicesStatus } from '../status';

/**
 * A local environment's Redis: one node (`single`) or seed 001's Sentinel
 * nodes, each a redis-server and a redis-sentinel from the machine's
 * binaries on its own loopback address, `.veza/envs/<env>/data/redis/node<i>`.
 * Inspection reads pid files and /proc; every change is a plan step.
 * Sentinel owns its file once it runs, and redis.conf's replicaof once it
 * fails over: they are written only while their process is down, and then
 * with the master Sentinel last recorded, so a provision never undoes a failover.
 */
export interface LocalRedisNode extends RedisNode {
  redisConf: string;
  sentinelConf: string;
  /** sha256 of the settings the files were rendered from (not of the files, which Sentinel rewrites). */
  stamp: string;
}

export interface LocalRedis {
  env: Environment;
  settings: RedisSettings;
  nodes: LocalRedisNode[];
  passwordFile: string;
}

const WAIT = shellScript('data/local/scripts/redis-wait.sh');
const STOP_PID = shellScript('data/local/scripts/stop-pid.sh');
const PRIVATE_EXEC = shellScript('data/local/scripts/private-exec.sh');
const SENTINEL_READY = shellScript('data/local/scripts/sentinel-ready.sh');

export function localRedis(env: Environment, dataRoot: string): LocalRedis | undefined {
  const settings = env.data.redis;
  if (!settings) return undefined;
  if (!env.local) throw new VezaError(`environment ${env.name} has no local.subnet`, 'set local.subnet (e.g. 127.77.1)', 'BAD_CONFIG');
  for (const bin of ['redis-server', 'redis-cli', ...(settings.topology === 'sentinel' ? ['redis-sentinel'] : [])]) {
    if (!onPath(bin)) throw new VezaError(`${bin} is not installed (data.redis of ${env.name} needs it)`, 'install redis-server and redis-sentinel (bash tools/scripts/setup.sh does)', 'MISSING_TOOL');
  }
  const root = join(dataRoot, 'redis');
  const nodes = Array.from({ length: redisNodeCount(settings) }, (_, index): LocalRedisNode => {
    const dir = join(root, `node${index}`);
    return {
      index,
      host: `${env.local!.subnet}.${LOCAL_HOST_OCTET.redis + index}`,
      port: settings.port,
      sentinelPort: settings.sentinel.port,
      files: { dir, pidfile: join(dir, 'redis.pid'), logfile: join(dir, 'redis.log'), sentinelPidfile: join(dir, 'sentinel.pid'), sentinelLogfile: join(dir, 'sentinel.log') },
      redisConf: join(dir, 'redis.conf'),
      sentinelConf: join(dir, 'sentinel.conf'),
      stamp: join(dir, 'settings.sha256'),
    };
  });
  return { env, settings, nodes, passwordFile: join(dataRoot, 'secrets', 'redis-password') };
}

export interface RedisNodeState {
  redisPid?: number;
  sentinelPid?: number;
  stamp?: string;
  sentinelConf?: string;
}

export function inspectRedis(r: LocalRedis): RedisNodeState[] {
  return r.nodes.map((n) => ({
    redisPid: livePid(n.files.pidfile, 'redis'),
    sentinelPid: livePid(n.files.sentinelPidfile, 'redis'),
    stamp: readText(n.stamp)?.trim(),
    sentinelConf: readText(n.sentinelConf),
  }));
}

/** The master the sentinels last agreed on (the most frequent one in their files), else node 0. */
export function currentMaster(r: LocalRedis, state: readonly RedisNodeState[]): Endpoint {
  return sentinelsMaster(r.settings, r.nodes, state.map((s) => s.sentinelConf));
}

function cli(argv: string[], password: string, description: string, timeoutMs = 15_000): Command {
  return { argv, env: { REDISCLI_AUTH: password }, description, timeoutMs };
}

function waitStep(host: string, port: number, password: string, what: string): PlanStep {
  return { kind: 'run', title: `wait for ${what} on ${host}:${port}`, command: cli(['sh', '-c', WAIT, 'redis-wait', host, String(port)], password, `wait for ${what}`) };
}

/**
 * The steps that bring every node up with the wanted settings; notes say
 * what was left alone and why.
 */
export function planRedis(r: LocalRedis, state: readonly RedisNodeState[], password: string): { steps: PlanStep[]; notes: string[] } {
  const steps: PlanStep[] = [];
  const notes: string[] = [];
  const stamp = redisSettingsStamp(r.settings, r.nodes, password);
  const master = currentMaster(r, state);
  const sentinel = r.settings.topology === 'sentinel';
  for (const node of r.nodes) {
    const st = state[node.index]!;
    const name = `redis node ${node.index} of ${r.env.name}`;
    const isMaster = node.host === master.host && node.port === master.port;
    const stale = st.stamp !== undefined && st.stamp !== stamp;
    steps.push({ kind: 'mkdir', title: `${name}: folder`, path: node.files.dir, mode: 0o700 });
    if (st.redisPid) {
      if (stale) notes.push(`${name} runs with older settings (pid ${st.redisPid}); stop the data tier and provision again to apply them`);
      else notes.push(`${name} runs (pid ${st.redisPid})`);
    } else {
      steps.push({ kind: 'write', title: `${name}: redis.conf${isMaster ? ' (master)' : ` (replica of ${master.host}:${master.port})`}`, path: node.redisConf, content: renderRedisConf(r.settings, node, password, isMaster ? undefined : master, { daemonize: true }), mode: 0o600, secret: true });
      // Held by another process, the port would only show as a PONG that never comes (or a stranger's answer).
      steps.push({ kind: 'check-bind', title: `${name}: ${node.host}:${node.port} is free`, host: node.host, port: node.port });
      steps.push({ kind: 'run', title: `${name}: start redis-server`, command: { argv: ['sh', '-c', PRIVATE_EXEC, 'private-exec', 'redis-server', node.redisConf], description: `start ${name}`, timeoutMs: 15_000 }, failureLog: node.files.logfile });
      steps.push(waitStep(node.host, node.port, password, name));
    }
    if (!sentinel) continue;
    if (st.sentinelPid) {
      notes.push(`sentinel ${node.index} of ${r.env.name} runs (pid ${st.sentinelPid}); its file is its own`);
      continue;
    }
    if (st.sentinelConf !== undefined && !stale) {
      notes.push(`sentinel ${node.index} of ${r.env.name} restarts from its own file (monitoring ${master.host}:${master.port})`);
    } else {
      steps.push({ kind: 'write', title: `sentinel ${node.index} of ${r.env.name}: sentinel.conf (monitors ${master.host}:${master.port})`, path: node.sentinelConf, content: renderSentinelConf(r.settings, node, password, master, { daemonize: true }), mode: 0o600, secret: true });
    }
    steps.push({ kind: 'check-bind', title: `sentinel ${node.index} of ${r.env.name}: ${node.host}:${node.sentinelPort} is free`, host: node.host, port: node.sentinelPort });
    steps.push({ kind: 'run', title: `sentinel ${node.index} of ${r.env.name}: start redis-sentinel`, command: { argv: ['sh', '-c', PRIVATE_EXEC, 'private-exec', 'redis-sentinel', node.sentinelConf], description: `start sentinel ${node.index}`, timeoutMs: 15_000 }, failureLog: node.files.sentinelLogfile });
    steps.push(waitStep(node.host, node.sentinelPort, password, `sentinel ${node.index}`));
  }
  // Sentinels learn replicas from the master's INFO (every 10 s): until each knows them all, a failover would find "no good slave".
  if (sentinel && steps.some((s) => s.kind === 'run')) {
    const others = String(r.nodes.length - 1);
    steps.push(...r.nodes.map((n): PlanStep => ({ kind: 'run', title: `wait until sentinel ${n.index} of ${r.env.name} knows ${others} replicas and ${others} sentinels`, command: cli(['sh', '-c', SENTINEL_READY, 'sentinel-ready', n.host, String(n.sentinelPort), r.settings.sentinel.masterName, others, others], password, `wait for sentinel ${n.index}`, 40_000) })));
  }
  if (steps.some((s) => s.kind === 'write')) steps.push(...r.nodes.map((n): PlanStep => ({ kind: 'write', title: `redis node ${n.index}: settings stamp`, path: n.stamp, content: `${stamp}\n`, mode: 0o600 })));
  return { steps, notes };
}

/** Sentinels first (so none starts a failover while the servers go down), then the servers. */
export function planRedisStop(r: LocalRedis, state: readonly RedisNodeState[]): PlanStep[] {
  const stop = (pid: number, what: string): PlanStep => ({ kind: 'run', title: `stop ${what} (pid ${pid})`, command: { argv: ['sh', '-c', STOP_PID, 'stop-pid', String(pid)], description: `stop ${what}`, timeoutMs: 40_000 } });
  return [
    ...state.flatMap((s, i) => (s.sentinelPid ? [stop(s.sentinelPid, `sentinel ${i} of ${r.env.name}`)] : [])),
    ...state.flatMap((s, i) => (s.redisPid ? [stop(s.redisPid, `redis node ${i} of ${r.env.name}`)] : [])),
  ];
}

/** Asks the sentinels (every one, for agreement) or, single, the node itself; a node or sentinel that does not answer is reported, not thrown. */
export async function redisStatus(r: LocalRedis, runner: ProcessRunner, password: string): Promise<NonNullable<ServicesStatus['redis']>> {
  if (r.settings.topology === 'single') {
    const n = r.nodes[0]!;
    const res = await runner.run(cli(['redis-cli', '-h', n.host, '-p', String(n.port), 'PING'], password, `ping redis of ${r.env.name}`, 5_000), { check: false }).catch(() => undefined);
    return { topology: 'single', address: `${n.host}:${n.port}`, answering: res?.stdout.trim() === 'PONG' };
  }
  const status = await askSentinels(r.settings.sentinel.masterName, r.nodes, async (i, args) => (await runner.run(sentinelQuery({ host: r.nodes[i]!.host, port: r.nodes[i]!.sentinelPort }, password, args))).stdout);
  return { topology: 'sentinel', ...status };
}
