/**
 * pg_auto_failover as data: the argv of every pg_autoctl call and the
 * reading of the monitor's node table, shared by the local and Incus
 * drivers (which differ only in where the programs run and how they are
 * wrapped). Nothing here runs anything.
 */
export interface AutoctlNode {
  name: string;
  host: string;
  port: number;
  pgdata: string;
}

/** What the formation's processes need in their environment: pg_autoctl keeps its config, state and pid under the XDG folders. */
export interface AutoctlEnv {
  /** Folder of pg_ctl, initdb, postgres (pg_autoctl finds them on PATH). */
  binDir: string;
  xdgConfig: string;
  xdgData: string;
  xdgRuntime: string;
}

/** The variables pg_autoctl runs with (a systemd unit sets them with Environment=). */
export function autoctlVars(e: AutoctlEnv): Record<string, string> {
  return { PATH: `${e.binDir}:/usr/bin:/bin`, XDG_CONFIG_HOME: e.xdgConfig, XDG_DATA_HOME: e.xdgData, XDG_RUNTIME_DIR: e.xdgRuntime };
}

/** `env K=V… pg_autoctl …`: the variables travel in argv so that a wrapper (runuser, incus exec) cannot drop them; none is secret. */
export function autoctl(e: AutoctlEnv, args: string[]): string[] {
  return ['env', ...Object.entries(autoctlVars(e)).map(([k, v]) => `${k}=${v}`), 'pg_autoctl', ...args];
}

export function monitorUri(monitor: Pick<AutoctlNode, 'host' | 'port'>): string {
  return `postgres://autoctl_node@${monitor.host}:${monitor.port}/pg_auto_failover?sslmode=disable`;
}

/**
 * The monitor and nodes use a cluster veza initialised (`--skip-pg-hba`):
 * its pg_hba.conf is ours, so pg_autoctl never widens who may connect.
 * Listening is pinned to the node's own address (pg_autoctl's default is *).
 */
export function createMonitorArgs(m: AutoctlNode): string[] {
  return ['create', 'monitor', '--pgdata', m.pgdata, '--pgport', String(m.port), '--hostname', m.host, '--skip-pg-hba', '--no-ssl', '--ssl-mode', 'disable'];
}

export function pinMonitorListenArgs(m: AutoctlNode): string[] {
  return ['config', 'set', '--pgdata', m.pgdata, 'postgresql.listen_addresses', m.host];
}

/**
 * Registration order decides roles: the first node created becomes the primary, the next ones standbys.
 * `listen`: the node's own address by default; a container, alone on its address, listens on every one (`*`).
 */
export function createNodeArgs(n: AutoctlNode, monitor: AutoctlNode, database: string, listen = n.host): string[] {
  return ['create', 'postgres', '--pgdata', n.pgdata, '--pgport', String(n.port), '--hostname', n.host, '--listen', listen, '--name', n.name,
    '--monitor', monitorUri(monitor), '--dbname', database, '--skip-pg-hba', '--no-ssl', '--ssl-mode', 'disable', '--run'];
}

export function runArgs(pgdata: string): string[] {
  return ['run', '--pgdata', pgdata];
}

export function switchoverArgs(monitorPgdata: string): string[] {
  return ['perform', 'switchover', '--pgdata', monitorPgdata, '--formation', 'default', '--group', '0'];
}

/** The failover timing an environment asks for (data.postgres.ha.failover). */
export interface FailoverTiming {
  unhealthySeconds: number;
  demoteSeconds: number;
  networkPartitionSeconds: number;
}

/**
 * The monitor's settings that decide when it fails over (all reloadable).
 * The health checks are shortened with the timeouts: a stopped container's
 * address stops answering, so each try waits its whole timeout, and the
 * defaults (5 s tries, 2 retries 2 s apart) alone take about 20 s to call a
 * node bad — longer than the unhealthy window they must fit in.
 */
export function monitorFailoverSettings(f: FailoverTiming): Record<string, string> {
  return {
    'pgautofailover.health_check_period': '2000',
    'pgautofailover.health_check_timeout': '2000',
    'pgautofailover.health_check_retry_delay': '1000',
    'pgautofailover.node_considered_unhealthy_timeout': String(f.unhealthySeconds * 1000),
    'pgautofailover.primary_demote_timeout': String(f.demoteSeconds * 1000),
  };
}

/** The monitor's settings that differ from `want` (every one when unread). */
export function staleMonitorSettings(read: Record<string, string> | undefined, want: Record<string, string>): string[] {
  return Object.keys(want).filter((k) => read?.[k] !== want[k]);
}

/** ALTER SYSTEM for each setting, then a reload: psql runs each statement on its own (ALTER SYSTEM refuses a transaction block). */
export function setMonitorSettingsSql(settings: Record<string, string>): string {
  return `${Object.entries(settings).map(([k, v]) => `ALTER SYSTEM SET ${k} = '${Number(v)}';\n`).join('')}SELECT pg_reload_conf();\n`;
}

/** A keeper's partition timeout, written into its config; `config set` makes a running keeper reload it. */
export function partitionTimeoutArgs(pgdata: string, seconds: number): string[] {
  return ['config', 'set', '--pgdata', pgdata, 'timeout.network_partition_timeout', String(Math.trunc(seconds))];
}

/** Where pg_autoctl keeps a member's config (XDG_CONFIG_HOME/pg_autoctl/<pgdata>/pg_autoctl.cfg). */
export function autoctlConfigFile(e: AutoctlEnv, pgdata: string): string {
  return `${e.xdgConfig}/pg_autoctl${pgdata}/pg_autoctl.cfg`;
}

/** The keeper's partition timeout in its config file's text (pg_autoctl writes every int option); undefined when absent. */
export function partitionTimeoutIn(cfg: string | undefined): number | undefined {
  const m = /^\s*network_partition_timeout\s*=\s*(\d+)\s*$/m.exec(cfg ?? '');
  return m ? Number(m[1]) : undefined;
}

/**
 * The monitor's formation settings in one query, as name/setting rows:
 * number_sync_standbys, then every pgautofailover.* server setting.
 */
export const MONITOR_SETTINGS_SQL = "SELECT 'number_sync_standbys' AS name, number_sync_standbys::text AS setting FROM pgautofailover.formation WHERE formationid = 'default' UNION ALL SELECT name, setting FROM pg_settings WHERE name LIKE 'pgautofailover.%'";

/** What MONITOR_SETTINGS_SQL answered: the sync-standby count and the server settings. */
export function readMonitorSettings(rows: { name: string; setting: string }[]): { syncStandbys?: number; settings: Record<string, string> } {
  const all = Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  const { number_sync_standbys: sync, ...settings } = all;
  return { syncStandbys: sync === undefined ? undefined : Number(sync), settings };
}

/** SQL for the monitor (pg_autoctl 2.0's `set formation number-sync-standbys` refuses 0). Idempotent. */
export function setSyncStandbysSql(n: number): string {
  return `SELECT pgautofailover.set_formation_number_sync_standbys('default', ${Math.trunc(n)});\n`;
}

/**
 * The pg_hba.conf of every member: pg_auto_failover's own roles on loopback
 * without password (the monitor's health checks, replication and pg_rewind),
 * every other role with its SCRAM password; the socket trusts the server's
 * OS user, whose directory only it reaches.
 */
export function renderFormationHba(network: string): string {
  return [
    '# Managed by veza (infra-data:provision writes it; pg_autoctl runs with --skip-pg-hba).',
    '# TYPE  DATABASE          USER                       ADDRESS   METHOD',
    'local   all               all                                  trust',
    `host    pg_auto_failover  autoctl_node               ${network}  trust`,
    `host    all               pgautofailover_monitor     ${network}  trust`,
    `host    replication       pgautofailover_replicator  ${network}  trust`,
    `host    all               pgautofailover_replicator  ${network}  trust`,
    `host    all               all                        ${network}  scram-sha-256`,
    '',
  ].join('\n');
}

/** One row of the monitor's pgautofailover.node table. */
export interface NodeRow {
  nodename: string;
  nodehost: string;
  nodeport: number;
  reportedstate: string;
  goalstate: string;
  health: number;
  reportedlsn: string;
}

export const NODE_ROWS_SQL = 'SELECT nodename, nodehost, nodeport, reportedstate::text, goalstate::text, health, reportedlsn::text FROM pgautofailover.node ORDER BY nodeid';

export interface FormationNode {
  name: string;
  host: string;
  port: number;
  state: string;
  goal: string;
  healthy: boolean;
  lsn: string;
  /** Bytes behind the primary's reported LSN; undefined for the primary itself or when unknown. */
  lagBytes?: number;
}

export interface FormationState {
  nodes: FormationNode[];
  primary?: FormationNode;
  /** Every node healthy and settled: one primary, every other node a secondary. */
  healthy: boolean;
  /** Nodes in transition or unhealthy, for messages. */
  problems: string[];
}

const PRIMARY_STATES = new Set(['single', 'primary', 'wait_primary']);

export function lsnToNumber(lsn: string): number | undefined {
  const m = /^([0-9A-F]+)\/([0-9A-F]+)$/i.exec(lsn);
  return m ? parseInt(m[1]!, 16) * 2 ** 32 + parseInt(m[2]!, 16) : undefined;
}

export function readFormation(rows: NodeRow[]): FormationState {
  const nodes: FormationNode[] = rows.map((r) => ({ name: r.nodename, host: r.nodehost, port: Number(r.nodeport), state: r.reportedstate, goal: r.goalstate, healthy: Number(r.health) === 1, lsn: r.reportedlsn }));
  const primary = nodes.find((n) => PRIMARY_STATES.has(n.state) && n.goal === n.state);
  const head = primary ? lsnToNumber(primary.lsn) : undefined;
  for (const n of nodes) {
    const at = lsnToNumber(n.lsn);
    if (n !== primary && head !== undefined && at !== undefined) n.lagBytes = Math.max(head - at, 0);
  }
  const problems = nodes.flatMap((n) => {
    if (!n.healthy) return [`${n.name} is unreachable (health check failing)`];
    if (n.state !== n.goal) return [`${n.name} is moving from ${n.state} to ${n.goal}`];
    if (n !== primary && n.state !== 'secondary') return [`${n.name} is ${n.state}`];
    return [];
  });
  if (!primary) problems.unshift('no primary');
  else if (primary.state !== 'primary') problems.push(`${primary.name} is ${primary.state} (no standby in sync)`);
  return { nodes, primary, healthy: nodes.length > 1 && problems.length === 0, problems };
}

/**
 * The monitor names a crashed primary healthy until it gives up on it (the
 * failover timing): what we read from the primary itself wins, so status and
 * the degraded-formation metric say so at once.
 */
export function withPrimaryUnanswered(f: FormationState, timing: FailoverTiming): FormationState {
  if (!f.primary) return f;
  return { ...f, healthy: false, problems: [primaryUnanswered(f.primary.name, timing), ...f.problems] };
}

export const primaryUnanswered = (name: string, t: FailoverTiming) =>
  `${name}, the primary, does not answer; pg_auto_failover promotes a standby once it has heard nothing from it for ${t.unhealthySeconds} s and then waited ${t.demoteSeconds} s for it to step down (about ${t.unhealthySeconds + t.demoteSeconds + 5} s from the crash)`;

/**
 * Why the formation takes no writes, or undefined when its primary does:
 * read after a deploy's migration failed, to tell a failover or a crashed
 * primary from a broken migration. `answers` asks the named primary itself
 * (the monitor still names a crashed one until the failover timing runs out).
 */
export async function whyUnwritable(envName: string, formation: FormationState | undefined, timing: FailoverTiming, answers: (primary: FormationNode) => Promise<boolean>): Promise<string | undefined> {
  if (!formation) return `the pg_auto_failover monitor of ${envName} does not answer`;
  if (!formation.primary) return `a failover is under way (${formation.problems.join('; ')})`;
  return (await answers(formation.primary)) ? undefined : primaryUnanswered(formation.primary.name, timing);
}
