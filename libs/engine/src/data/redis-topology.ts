import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import type { Environment } from '../config/environment';
import { describeError, VezaError } from '../log/errors';
import { registerSecret } from '../log/redact';

/**
 * Redis topologies (seed 001: three redis-server + redis-sentinel nodes,
 * quorum 2, failover-timeout 30 s), as pure data and rendered files the
 * local and Incus drivers share. Where a node lives (its address, files)
 * is the driver's; what it says is decided here.
 */
export type RedisSettings = NonNullable<Environment['data']['redis']>;

export interface RedisNode {
  /** 0 is the initial master. */
  index: number;
  /** How the other nodes, the sentinels and the apps reach it: an address, or a DNS name (Incus). */
  host: string;
  /** What redis and its sentinel listen on when that is not `host` itself (a container's 0.0.0.0 behind its DNS name). */
  bind?: string;
  port: number;
  /** Where this node's sentinel listens (sentinel topology only). */
  sentinelPort: number;
  /** Driver-chosen files: the data directory, pid and log files of redis and of its sentinel. */
  files: { dir: string; pidfile: string; logfile: string; sentinelPidfile: string; sentinelLogfile: string };
}

export interface Endpoint {
  host: string;
  port: number;
}

/** Redis's own quoting: one line, backslash and double quote escaped. */
export function redisQuote(what: string, value: string): string {
  if (/[\r\n\0]/.test(value)) throw new VezaError(`the ${what} holds a line break or NUL`, 'use a value on one line', 'INVALID_INPUT');
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * One node's redis.conf. `master` undefined: this node is the master.
 * Passwords live only here (the file is 0600); `masterauth` lets any node
 * follow any other after a failover. `replica-announce-ip` makes a replica
 * known by its own loopback address, not the one its connection came from.
 */
/** A redis size (`maxmemory`), checked before it reaches a config file. */
export function redisSize(value: string): string {
  if (!/^\d+(b|kb|mb|gb)?$/i.test(value)) throw new VezaError(`invalid redis maxmemory ${JSON.stringify(value)}`, 'use a size such as 256mb', 'BAD_CONFIG');
  return value;
}

export function renderRedisConf(s: RedisSettings, node: RedisNode, password: string, master: Endpoint | undefined, opts: { daemonize: boolean }): string {
  redisSize(s.maxmemory);
  const pw = redisQuote('redis password', password);
  const sentinel = s.topology === 'sentinel';
  return [
    '# written by veza; holds the password: 0600. Sentinel may rewrite replicaof after a failover.',
    `bind ${node.bind ?? node.host}`,
    'protected-mode yes',
    `port ${node.port}`,
    `daemonize ${opts.daemonize ? 'yes' : 'no'}`,
    `dir ${redisQuote('redis dir', node.files.dir)}`,
    `pidfile ${redisQuote('redis pidfile', node.files.pidfile)}`,
    `logfile ${redisQuote('redis logfile', node.files.logfile)}`,
    `requirepass ${pw}`,
    ...(sentinel ? [`masterauth ${pw}`, `replica-announce-ip ${node.host}`, `replica-announce-port ${node.port}`] : []),
    'appendonly yes',
    'appendfsync everysec',
    `maxmemory ${s.maxmemory}`,
    // A replica must not evict what its master holds; the master's policy decides for both.
    'maxmemory-policy allkeys-lru',
    ...(master ? [`replicaof ${master.host} ${master.port}`] : []),
    '',
  ].join('\n');
}

/**
 * One sentinel's initial file. Sentinel rewrites it (epochs, known replicas
 * and sentinels, the master after a failover), so a driver writes it only
 * when absent or when the sentinel is down, and then with the master the
 * old file names (`monitoredMaster`), never rolling a failover back.
 */
export function renderSentinelConf(s: RedisSettings, node: RedisNode, password: string, master: Endpoint, opts: { daemonize: boolean }): string {
  const { masterName, quorum, downAfterMs, failoverTimeoutMs } = s.sentinel;
  // Sentinel rewrites `sentinel auth-pass` unquoted (Redis 8.0): a password it would split or unescape makes its next start fail to read its own file.
  if (/[\s"'\\]/.test(password)) throw new VezaError('the redis password holds whitespace, a quote or a backslash, which Redis Sentinel cannot write back into its own file', 'use a password of letters, digits and punctuation other than quotes and backslash (the Sentinel topology needs it), e.g. openssl rand -base64 24', 'INVALID_INPUT');
  const pw = redisQuote('redis password', password);
  return [
    '# written by veza; redis-sentinel rewrites this file: keep it writable (0600, holds the password)',
    `bind ${node.bind ?? node.host}`,
    `port ${node.sentinelPort}`,
    `daemonize ${opts.daemonize ? 'yes' : 'no'}`,
    `dir ${redisQuote('sentinel dir', node.files.dir)}`,
    `pidfile ${redisQuote('sentinel pidfile', node.files.sentinelPidfile)}`,
    `logfile ${redisQuote('sentinel logfile', node.files.sentinelLogfile)}`,
    // Every sentinel shares this password: it is also what one sentinel sends another.
    `requirepass ${pw}`,
    // Nodes known by DNS name (Incus): Sentinel must resolve them and hand the names, not its own lookups, to clients and peers.
    ...(isIPv4(node.host) ? [] : ['sentinel resolve-hostnames yes', 'sentinel announce-hostnames yes']),
    `sentinel announce-ip ${node.host}`,
    `sentinel announce-port ${node.sentinelPort}`,
    `sentinel monitor ${masterName} ${master.host} ${master.port} ${quorum}`,
    `sentinel auth-pass ${masterName} ${pw}`,
    `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
    `sentinel failover-timeout ${masterName} ${failoverTimeoutMs}`,
    `sentinel parallel-syncs ${masterName} 1`,
    '',
  ].join('\n');
}

/** The master a sentinel file monitors now (Sentinel rewrites the line after a failover). */
export function monitoredMaster(sentinelConf: string, masterName: string): Endpoint | undefined {
  for (const line of sentinelConf.split('\n')) {
    const m = /^sentinel monitor (\S+) (\S+) (\d+) \d+\s*$/.exec(line.trim());
    if (m && m[1] === masterName) return { host: m[2]!, port: Number(m[3]) };
  }
  return undefined;
}

/**
 * The master the sentinels last agreed on: the one most of their files
 * monitor (`sentinelConfs[i]` is node i's file, or only its `sentinel monitor`
 * line, undefined where none is known), else node 0, the initial master.
 */
export function sentinelsMaster(s: RedisSettings, nodes: readonly Pick<RedisNode, 'host' | 'port'>[], sentinelConfs: readonly (string | undefined)[]): Endpoint {
  const votes = new Map<string, number>();
  for (const conf of sentinelConfs) {
    const m = conf && monitoredMaster(conf, s.sentinel.masterName);
    if (m) votes.set(`${m.host}:${m.port}`, (votes.get(`${m.host}:${m.port}`) ?? 0) + 1);
  }
  const best = [...votes].sort((a, b) => b[1] - a[1])[0]?.[0];
  if (!best || s.topology !== 'sentinel') return { host: nodes[0]!.host, port: nodes[0]!.port };
  const [host, port] = best.split(':');
  return { host: host!, port: Number(port) };
}

/** What the files are rendered from, minus the master (which Sentinel moves): a change here needs them rewritten and the processes restarted. */
export function redisSettingsStamp(s: RedisSettings, nodes: readonly RedisNode[], password: string): string {
  return createHash('sha256').update(JSON.stringify({ s, nodes: nodes.map((n) => [n.host, n.port, n.sentinelPort]), password })).digest('hex');
}

/**
 * What slots get (seed 001's backend reads these): the sentinels' addresses,
 * the master name and the password; REDIS_URL for a single node.
 */
export function redisAppEnv(s: RedisSettings, nodes: readonly Pick<RedisNode, 'host' | 'port' | 'sentinelPort'>[], password: string): Record<string, string> {
  registerSecret(password);
  registerSecret(encodeURIComponent(password));
  if (s.topology === 'single') {
    const n = nodes[0]!;
    return { REDIS_URL: `redis://:${encodeURIComponent(password)}@${n.host}:${n.port}/0` };
  }
  return {
    REDIS_SENTINEL_ADDRS: nodes.map((n) => `${n.host}:${n.sentinelPort}`).join(','),
    REDIS_SENTINEL_MASTER_NAME: s.sentinel.masterName,
    REDIS_SENTINEL_PASSWORD: password,
  };
}

/** How many redis nodes the topology runs. */
export function redisNodeCount(s: RedisSettings): number {
  return s.topology === 'sentinel' ? s.sentinel.nodes : 1;
}

/** `redis-cli --json` asking one sentinel (`SENTINEL <args>`); the password travels in REDISCLI_AUTH, never argv. */
export function sentinelQuery(sentinel: Endpoint, password: string, args: string[]): { argv: string[]; env: Record<string, string>; description: string; timeoutMs: number } {
  return { argv: ['redis-cli', '--json', '-h', sentinel.host, '-p', String(sentinel.port), 'SENTINEL', ...args], env: { REDISCLI_AUTH: password }, description: `ask sentinel ${sentinel.host}:${sentinel.port}`, timeoutMs: 5_000 };
}

export interface SentinelReplica {
  address: string;
  /** Sentinel's flags, e.g. `slave` or `s_down,slave,disconnected`. */
  flags: string;
  /** `ok` once it follows the master. */
  linkStatus: string;
  offset: number;
}

export interface SentinelStatus {
  masterName: string;
  /** The master most sentinels name; absent when none answers. */
  master?: string;
  /** Every answering sentinel names the same master. */
  agreed: boolean;
  sentinels: { address: string; master?: string; error?: string }[];
  /** As the sentinel that named the master sees them. */
  replicas: SentinelReplica[];
}

/** `SENTINEL get-master-addr-by-name` as `redis-cli --json` prints it: `["host","port"]`. */
export function readMasterAddr(json: string): string | undefined {
  const v: unknown = JSON.parse(json);
  return Array.isArray(v) && v.length === 2 ? `${String(v[0])}:${String(v[1])}` : undefined;
}

/** `SENTINEL replicas <name>` as `redis-cli --json` prints it: one object per replica. */
export function readSentinelReplicas(json: string): SentinelReplica[] {
  const v: unknown = JSON.parse(json);
  if (!Array.isArray(v)) return [];
  return v.map((r: Record<string, string>) => ({ address: `${r.ip}:${r.port}`, flags: r.flags ?? '', linkStatus: r['master-link-status'] ?? '', offset: Number(r['slave-repl-offset'] ?? 0) }));
}

/** The sentinels' answers put together: the master by majority, agreement, and the replicas one of the majority reported. */
export function sentinelStatus(masterName: string, answers: { address: string; master?: string; error?: string; replicas?: SentinelReplica[] }[]): SentinelStatus {
  const votes = new Map<string, number>();
  for (const a of answers) if (a.master) votes.set(a.master, (votes.get(a.master) ?? 0) + 1);
  const master = [...votes].sort((a, b) => b[1] - a[1])[0]?.[0];
  return {
    masterName,
    ...(master ? { master } : {}),
    agreed: votes.size === 1,
    sentinels: answers.map(({ address, master: m, error }) => ({ address, ...(m ? { master: m } : {}), ...(error ? { error } : {}) })),
    replicas: answers.find((a) => a.master === master && a.replicas)?.replicas ?? [],
  };
}

/**
 * Every sentinel asked (for agreement) its master and replicas through
 * `ask` (the driver's way to run a `SENTINEL <args>` query and return
 * `redis-cli --json`'s output); one that does not answer is reported, not thrown.
 */
export async function askSentinels(masterName: string, nodes: readonly Pick<RedisNode, 'host' | 'sentinelPort'>[], ask: (node: number, args: string[]) => Promise<string>): Promise<SentinelStatus> {
  const answers = await Promise.all(nodes.map(async (n, i) => {
    const address = `${n.host}:${n.sentinelPort}`;
    try {
      const master = readMasterAddr(await ask(i, ['get-master-addr-by-name', masterName]));
      const replicas = readSentinelReplicas(await ask(i, ['replicas', masterName]));
      return { address, ...(master ? { master } : { error: `knows no master ${masterName}` }), replicas };
    } catch (e) {
      return { address, error: describeError(e).split('\n')[0]! };
    }
  }));
  return sentinelStatus(masterName, answers);
}
