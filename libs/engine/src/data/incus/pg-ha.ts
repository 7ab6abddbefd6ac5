import { posix } from 'node:path';
import type { Environment, HaSettings } from '../../config/environment';
import * as cli from '../../hosts/incus/cli';
import type { IncusClient } from '../../hosts/incus/client';
import type { IncusSettings } from '../../hosts/incus/host';
import { VezaError } from '../../log/errors';
import type { Command } from '../../ports/process';
import { shellScript } from '../../util/shell-script';
import { renderTimerUnits, type TimerUnits } from '../../util/systemd';
import type { PostgresEndpoint } from '../credentials';
import {
  autoctl, autoctlConfigFile, autoctlVars, createMonitorArgs, createNodeArgs, MONITOR_SETTINGS_SQL, monitorFailoverSettings, NODE_ROWS_SQL, partitionTimeoutArgs, readFormation, readMonitorSettings,
  renderFormationHba, runArgs, setMonitorSettingsSql, setSyncStandbysSql, staleMonitorSettings, switchoverArgs,
  type AutoctlEnv, type AutoctlNode, type FormationState, type NodeRow,
} from '../ha/formation';
import { backrestArgs, renderArchiveConf, renderBackrestConf, renderDrillOverrides, repoLabel, restoreCommand, stanzaCreate, stanzaStamp, type BackrestLayout } from '../ha/pgbackrest';
import { backupUserSecret } from '../ha/s3-repository';
import { frontContainer, incusS3Target, nodeCaStep, STANZA_STAMP } from './minio-front';
import { BACKUP_JITTER } from '../ha/operations';
import { parseAlignedTable, pgbouncerFdLimit, renderPgbouncerDatabases, renderPgbouncerLimits, renderPgbouncerHba, renderPgbouncerIni, renderPrimaryFollower, renderUserlist, type PgbouncerLayout, type PoolRow } from '../ha/pgbouncer';
import type { PlanStep, WaitSpec } from '../plan';
import { ensureRoleAndDatabaseSql } from '../sql';
import { pgHaContainers, planContainer, POSTGRES_APP_CHECK, restartStep, sha256, shellIn, writeConfigStep, type PlanContext } from './services';

/**
 * The HA topology on Incus (seed 001): a pg_auto_failover monitor
 * `<prefix>pg-monitor`, data nodes `<prefix>pg-1..N` and PgBouncer
 * `<prefix>pgbouncer`, each a data container (never destroyed) with
 * Debian's packages installed by apt. pg_autoctl runs under systemd
 * (`veza-pg-autoctl.service`, as postgres), so a container that boots
 * again brings its node back and it rejoins by itself. Members are known
 * by their DNS names on the bridge. The files come from the renderers the
 * local tier uses (`data/ha/`); only where they live and how the programs
 * are started differ. Roles come from registration order: node 1 is
 * created and registered as primary before any other node starts.
 * pgBackRest's posix repository is a folder on the Incus host mounted into
 * every data node, so whichever node is primary archives and backs up into
 * it, and the restore drill reads it from a throw-away container.
 */
/** Debian 13's PostgreSQL, the tier's image. */
export const PG_MAJOR = '17';
const ROOT = '/var/lib/postgresql/veza';
const BIN = `/usr/lib/postgresql/${PG_MAJOR}/bin`;
/** A tmpfs folder systemd makes for the unit: a pid file left by a hard stop never outlives the boot. */
const RUNTIME = '/run/veza-pg-autoctl';
const AUTOCTL: AutoctlEnv = { binDir: BIN, xdgConfig: `${ROOT}/xdg/config`, xdgData: `${ROOT}/xdg/data`, xdgRuntime: RUNTIME };
const KEEPER = 'veza-pg-autoctl';
const KEEPER_UNIT = `/etc/systemd/system/${KEEPER}.service`;
const MEMBER_PACKAGES = [`postgresql-${PG_MAJOR}-auto-failover`, 'pg-auto-failover-cli'];
/** The data nodes archive and back up into the repository: pgBackRest on each. */
const NODE_PACKAGES = [...MEMBER_PACKAGES, 'pgbackrest'];
const PGBACKREST = '/usr/bin/pgbackrest';
/** Where each node sees the repository: the host folder, mounted into every data node (shift: the nodes' postgres owns it). */
const REPO_MOUNT = '/var/lib/pgbackrest';
const REPO_DEVICE = 'pgbackrest';
const ARCHIVE_CONF = 'veza-archive.conf';
const PGBOUNCER_PACKAGES = ['pgbouncer', 'postgresql-client'];
const PGBOUNCER_LIMITS = '/etc/systemd/system/pgbouncer.service.d/veza-limits.conf';
/** Debian's postgresql package makes a cluster of its own on 5432: the members' clusters are veza's. */
const DEBIAN_CLUSTER = `/etc/postgresql/${PG_MAJOR}/main/postgresql.conf`;

const INSPECT = shellScript('data/incus/scripts/inspect-files.sh');
/** $1 the major version: its `main` cluster stopped and dropped, when there is one. */
const DROP_DEBIAN_CLUSTER = shellScript('data/incus/scripts/drop-debian-cluster.sh');
const ENSURE_LINE = shellScript('data/incus/scripts/ensure-line.sh');
/** The backup timers' job on every node: $1 port, $2 type; only the primary backs up. */
const BACKUP_IF_PRIMARY = shellScript('data/incus/scripts/backup-if-primary.sh');
const BACKUP_SCRIPT = '/usr/local/bin/veza-backup-if-primary';
const PSQL = shellScript('data/incus/scripts/pg-psql.sh');

export interface IncusPgMember extends AutoctlNode {
  container: string;
}

export interface IncusPgHa {
  ha: HaSettings;
  monitor: IncusPgMember;
  nodes: IncusPgMember[];
  pgbouncer: PgbouncerLayout & { container: string; iniFile: string; followerScript: string; followerUnit: string; stateDir: string };
  endpoint: PostgresEndpoint;
  /** pgBackRest in every data node; `hostRepo` is the posix repository's folder on the Incus host (unused with `s3`). */
  backrest: BackrestLayout & { hostRepo: string };
}

export function incusPgHa(env: Environment, settings: IncusSettings, ha: HaSettings): IncusPgHa {
  const { port, user, database } = env.data.postgres;
  const names = pgHaContainers(env, ha.nodes);
  const member = (container: string, name: string, pgdata: string): IncusPgMember => ({ container, name, host: `${container}.${settings.dnsSuffix}`, port, pgdata });
  const pgbouncer = `${names.pgbouncer}.${settings.dnsSuffix}`;
  const stateDir = '/var/lib/veza-pgbouncer';
  return {
    ha,
    monitor: member(names.monitor, 'monitor', `${ROOT}/monitor`),
    nodes: names.nodes.map((c, i) => member(c, `node${i + 1}`, `${ROOT}/node`)),
    pgbouncer: {
      container: names.pgbouncer,
      listenHost: '*',
      listenPort: ha.pgbouncer.port,
      socketDir: '/run/postgresql',
      adminUser: 'postgres',
      // Where Debian's pgbouncer.service reads its file; the database line in a folder the follower (postgres) may rename into.
      iniFile: '/etc/pgbouncer/pgbouncer.ini',
      hbaFile: '/etc/pgbouncer/hba.conf',
      userlistFile: '/etc/pgbouncer/userlist.txt',
      databasesFile: `${stateDir}/databases.ini`,
      pidFile: '/run/postgresql/pgbouncer.pid',
      logFile: '/var/log/postgresql/pgbouncer.log',
      followerScript: '/usr/local/bin/veza-follow-primary',
      followerUnit: '/etc/systemd/system/veza-pgbouncer-follower.service',
      stateDir,
    },
    endpoint: { host: pgbouncer, port: ha.pgbouncer.port, user, database },
    backrest: {
      hostRepo: ha.backup.repository.path ?? `/var/lib/veza/pgbackrest/${env.name}`,
      // Debian's own file and folders (the package makes them the postgres user's).
      configFile: '/etc/pgbackrest.conf',
      repoPath: REPO_MOUNT,
      logPath: '/var/log/pgbackrest',
      lockPath: '/tmp/pgbackrest',
      spoolPath: '/var/spool/pgbackrest',
      // Each node backs up and archives only itself: whichever is primary runs them, on its own cluster.
      nodes: [{ pgdata: `${ROOT}/node`, port, socketDir: '/run/postgresql' }],
      s3: incusS3Target(env, settings),
    },
  };
}

/** pgBackRest `command` as postgres in `container` (a data node, or the drill's). */
/** pgBackRest as postgres inside a node's container, on its config. */
export function backrestArgv(h: IncusPgHa, command: string[]): string[] {
  return ['runuser', '-u', 'postgres', '--', ...backrestArgs(PGBACKREST, h.backrest.configFile, command)];
}

export function backrestIn(client: IncusClient, h: IncusPgHa, container: string, command: string[], description: string, timeoutMs = 30 * 60_000): Command {
  return cli.exec(client.scope, container, backrestArgv(h, command), { description, timeoutMs });
}

// ---- units ------------------------------------------------------------------

/** systemd splits ExecStart on blanks and expands % and $: the keeper's argv may hold none of them. */
function execStart(argv: string[]): string {
  const bad = argv.find((a) => !/^[A-Za-z0-9_@:/.,=?*+-]+$/.test(a));
  if (bad !== undefined) throw new VezaError(`a pg_autoctl argument cannot go into a systemd unit as it is: ${JSON.stringify(bad)}`, 'use names of letters, digits, dots and dashes for the environment prefix, the database and the DNS suffix', 'INVALID_INPUT');
  return argv.join(' ');
}

/**
 * pg_autoctl under systemd, as postgres. `args` creates the member the
 * first time (`create … --run` registers it, then keeps it) and only runs
 * it afterwards: provision rewrites the unit once the member exists.
 */
export function keeperUnit(role: string, args: string[]): string {
  return [
    `# written by veza: the pg_auto_failover ${role}. Started with the container; restarted whenever it stops.`,
    '[Unit]',
    `Description=pg_auto_failover ${role} (veza)`,
    'Wants=network-online.target',
    'After=network-online.target',
    'StartLimitIntervalSec=0',
    '',
    '[Service]',
    'User=postgres',
    'Group=postgres',
    'WorkingDirectory=/var/lib/postgresql',
    `RuntimeDirectory=${posix.basename(RUNTIME)}`,
    ...Object.entries(autoctlVars(AUTOCTL)).map(([k, v]) => `Environment=${k}=${v}`),
    `ExecStart=${execStart(['/usr/bin/pg_autoctl', ...args])}`,
    'Restart=always',
    'RestartSec=2',
    'TimeoutStopSec=60',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

export function followerUnit(script: string): string {
  return [
    '# written by veza: points PgBouncer at the pg_auto_failover primary.',
    '[Unit]',
    'Description=PgBouncer primary follower (veza)',
    'Wants=network-online.target pgbouncer.service',
    'After=network-online.target pgbouncer.service',
    'StartLimitIntervalSec=0',
    '',
    '[Service]',
    'User=postgres',
    'Group=postgres',
    `ExecStart=/bin/sh ${script}`,
    'Restart=always',
    'RestartSec=2',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

const createArgs = (h: IncusPgHa, m: IncusPgMember, database: string): string[] =>
  (m === h.monitor ? createMonitorArgs(m) : createNodeArgs(m, h.monitor, database, '*')).concat(m === h.monitor ? ['--run'] : []);

// ---- inspection ---------------------------------------------------------------

/** What a member's or PgBouncer's container holds: INSPECT's facts, keyed by path or `unit:<name>`. */
export interface PgHaContainerState {
  exists: boolean;
  running: boolean;
  facts: Record<string, string>;
}

export interface PgHaState {
  monitor: PgHaContainerState;
  nodes: PgHaContainerState[];
  pgbouncer: PgHaContainerState;
  /** The monitor's view, when it answers. */
  formation?: FormationState;
  syncStandbys?: number;
  /** The monitor's pgautofailover.* settings, when it answers. */
  monitorSettings?: Record<string, string>;
  /** The app role logs in through PgBouncer with its password and owns its database. */
  appReady: boolean;
  /** The repository's passphrase: the one the nodes' pgbackrest.conf holds, or a new one. */
  cipherPass: string;
  stanzaExists: boolean;
  /** With an S3 repository: the TLS front's certificate, once MinIO's container made it. */
  frontCert?: string;
}

/** How messages name the repository: the host's folder, or the bucket behind the front. */
export function repoName(h: IncusPgHa): string {
  return h.backrest.s3 ? repoLabel(h.backrest) : h.backrest.hostRepo;
}

/** pgbackrest.conf as every data node and the drill hold it. */
function backrestConf(ctx: PlanContext, h: IncusPgHa, cipherPass: string): string {
  return renderBackrestConf(h.backrest, h.ha.backup, cipherPass, h.backrest.s3 ? backupUserSecret(ctx.secrets.minio!) : undefined);
}

/** Where the repository comes from in a data node or the drill's container: the host's folder mounted in, or the front's certificate. */
function repoAccessSteps(ctx: PlanContext, h: IncusPgHa, ct: string, frontCert: string | undefined, readonly: boolean): PlanStep[] {
  if (h.backrest.s3) return [nodeCaStep(ctx, ct, h.backrest.s3, frontCert!)];
  return [
    run(`mount the repository into ${ct}${readonly ? ', read-only' : ''}`, cli.deviceAdd(ctx.client.scope, ct, REPO_DEVICE, 'disk', [`source=${h.backrest.hostRepo}`, `path=${REPO_MOUNT}`, 'shift=true', ...(readonly ? ['readonly=true'] : [])])),
    ...(readonly ? [] : [run(`hand the repository to postgres in ${ct}`, cli.exec(ctx.client.scope, ct, ['chown', 'postgres:postgres', REPO_MOUNT], { description: `chown ${REPO_MOUNT}`, timeoutMs: 60_000 }))]),
  ];
}

/** The inspection fact that says the node reaches the repository: the front's certificate's hash, or the mount. */
const repoFact = (h: IncusPgHa): string => (h.backrest.s3 ? h.backrest.s3.caFile : `mount:${REPO_MOUNT}`);
const repoReached = (h: IncusPgHa, st: PgHaContainerState, frontCert: string | undefined): boolean =>
  st.facts[repoFact(h)] === (h.backrest.s3 ? sha256(frontCert ?? '') : '1');

/** What a member's inspection runs inside its container (its facts, key=value lines). */
export function inspectMemberArgv(h: IncusPgHa, m: IncusPgMember): string[] {
  const timers = backupTimers(h, m).flatMap((u) => [`/etc/systemd/system/${u.name}.service`, `/etc/systemd/system/${u.name}.timer`, `unit:${u.name}.timer`]);
  const node = m === h.monitor ? [] : [PGBACKREST, partitionFact(m), repoFact(h), h.backrest.configFile, `${m.pgdata}/${ARCHIVE_CONF}`, BACKUP_SCRIPT, ...timers];
  return ['sh', '-c', INSPECT, 'veza', '/usr/bin/pg_autoctl', `unit:${KEEPER}`, KEEPER_UNIT, `${m.pgdata}/PG_VERSION`, `${m.pgdata}/pg_hba.conf`, DEBIAN_CLUSTER, ...node];
}

export function inspectPgbouncerArgv(h: IncusPgHa): string[] {
  const p = h.pgbouncer;
  return ['sh', '-c', INSPECT, 'veza', '/usr/sbin/pgbouncer', 'unit:pgbouncer', 'unit:veza-pgbouncer-follower', PGBOUNCER_LIMITS, p.iniFile, p.hbaFile, p.userlistFile, p.databasesFile, p.followerScript, p.followerUnit];
}

/** pg-psql.sh's argv: psql as postgres on `port` and `database`, SQL on stdin; unaligned, tab-separated, with a header. */
const psqlArgv = (port: number, database: string): string[] => ['sh', '-c', PSQL, 'veza', String(port), database];

/** psql as postgres inside `container`, SQL on stdin. */
export function psqlIn(client: IncusClient, container: string, port: number, database: string, sql: string, description: string, timeoutMs = 30_000): Command {
  return cli.exec(client.scope, container, psqlArgv(port, database), { input: sql, description, timeoutMs });
}

/** A read through psql inside `container`, with the sentinel (a cut answer is asked again); undefined when psql fails. */
export function queryIn(client: IncusClient, container: string, port: number, database: string, sql: string, description: string, timeoutMs = 30_000): Promise<Record<string, string>[] | undefined> {
  return client.output(container, psqlArgv(port, database), { input: sql, description, timeoutMs }).then(parseAlignedTable, () => undefined);
}

/** The monitor's node table and sync setting, asked inside its container; undefined while it does not answer. */
export async function readFormationOnIncus(client: IncusClient, h: IncusPgHa): Promise<{ formation: FormationState; syncStandbys?: number; monitorSettings?: Record<string, string> } | undefined> {
  const m = h.monitor;
  const nodes = await queryIn(client, m.container, m.port, 'pg_auto_failover', `${NODE_ROWS_SQL};\n`, 'read the formation');
  if (!nodes) return undefined;
  const settings = await queryIn(client, m.container, m.port, 'pg_auto_failover', `${MONITOR_SETTINGS_SQL};\n`, "read the monitor's settings");
  const monitor = settings && readMonitorSettings(settings as { name: string; setting: string }[]);
  return { formation: readFormation(nodes as unknown as NodeRow[]), syncStandbys: monitor?.syncStandbys, monitorSettings: monitor?.settings };
}

/** Whether the node in `container` takes writes now (the monitor still names a crashed primary for a while). */
export async function takesWrites(client: IncusClient, m: IncusPgMember): Promise<boolean> {
  const r = await queryIn(client, m.container, m.port, 'postgres', "SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off' AS w;\n", `ask ${m.container} whether it takes writes`, 10_000);
  return r?.[0]?.w === 't';
}

/** The member the monitor names by host. */
export function memberOf(h: IncusPgHa, node: { host: string } | undefined): IncusPgMember | undefined {
  return node && h.nodes.find((n) => n.host === node.host);
}

/**
 * A formation with one primary that takes writes and every other node a
 * secondary. While a standby is cloned, pg_basebackup waits for the
 * primary's next checkpoint, which pg_autoctl does not ask to be fast: a
 * CHECKPOINT on the primary ends that wait.
 */
export async function formationSettledOnIncus(client: IncusClient, h: IncusPgHa): Promise<boolean> {
  const read = await readFormationOnIncus(client, h);
  if (!read) return false;
  const f = read.formation;
  const primary = memberOf(h, f.primary ?? f.nodes.find((n) => n.state === 'wait_primary'));
  if (primary && f.nodes.some((n) => n.state === 'catchingup' || n.goal === 'catchingup')) {
    await client.run(psqlIn(client, primary.container, primary.port, 'postgres', 'CHECKPOINT;\n', 'checkpoint the primary'), { check: false }).catch(() => undefined);
  }
  const answering = memberOf(h, f.primary);
  return f.healthy && f.nodes.length === h.nodes.length && answering !== undefined && (await takesWrites(client, answering));
}

/** Whether the app role logs in through PgBouncer, from inside its container (the password on stdin), and owns its database. */
export async function appReady(client: IncusClient, h: IncusPgHa, password: string): Promise<boolean> {
  const owner = await client.output(h.pgbouncer.container, ['sh', '-c', POSTGRES_APP_CHECK, 'veza', h.endpoint.user, h.endpoint.database, String(h.pgbouncer.listenPort)],
    { input: `${password}\n`, description: `log in as ${h.endpoint.user} through PgBouncer`, timeoutMs: 30_000 }).catch(() => '');
  return owner.trim() === h.endpoint.user;
}

/** SHOW POOLS on PgBouncer's admin console: its socket, as postgres (peer). */
export async function poolsOnIncus(client: IncusClient, h: IncusPgHa): Promise<PoolRow[]> {
  const p = h.pgbouncer;
  const text = await client.output(p.container, psqlArgv(p.listenPort, 'pgbouncer'), { input: 'SHOW POOLS;\n', description: 'read PgBouncer pools', timeoutMs: 10_000 });
  return parseAlignedTable(text).filter((r) => r.database !== 'pgbouncer') as unknown as PoolRow[];
}

/** pg_autoctl inside a member's container, as postgres with the formation's XDG folders. */
export function autoctlAsPostgres(args: string[]): string[] {
  return ['runuser', '-u', 'postgres', '--', ...autoctl(AUTOCTL, args)];
}

export function switchoverCommand(client: IncusClient, h: IncusPgHa): Command {
  return cli.exec(client.scope, h.monitor.container, autoctlAsPostgres(switchoverArgs(h.monitor.pgdata)), { description: 'pg_autoctl perform switchover', timeoutMs: 180_000 });
}

// ---- the plan -------------------------------------------------------------------

const run = (title: string, command: Command): PlanStep => ({ kind: 'run', title, command });

function memberInit(ctx: PlanContext, m: IncusPgMember, st: PgHaContainerState, clusterFromScratch: boolean): PlanStep[] {
  const exec = (argv: string[], title: string, timeoutMs = 120_000) => run(title, cli.exec(ctx.client.scope, m.container, argv, { description: title, timeoutMs }));
  const steps: PlanStep[] = [];
  const initialized = Boolean(st.facts[`${m.pgdata}/PG_VERSION`]);
  // A container created by this very plan gets Debian's cluster with its package, after the inspection.
  if (st.facts[DEBIAN_CLUSTER] || !initialized) steps.push(run(`drop Debian's default cluster in ${m.container} (the port is the formation's)`, shellIn(ctx, m.container)(DROP_DEBIAN_CLUSTER, [PG_MAJOR], `drop Debian's default cluster in ${m.container}`, { timeoutMs: 120_000 })));
  if (initialized) return steps;
  steps.push(exec(['install', '-d', '-o', 'postgres', '-g', 'postgres', '-m', '0700', ROOT, m.pgdata], `create ${m.container}:${m.pgdata}`));
  if (!clusterFromScratch) return steps; // a standby is cloned into the empty folder by pg_basebackup, its hba with it
  steps.push(exec(['runuser', '-u', 'postgres', '--', `${BIN}/initdb`, '--pgdata', m.pgdata, '--username', 'postgres', '--auth-local', 'trust', '--auth-host', 'scram-sha-256', '--encoding', 'UTF8', '--no-locale', '--no-instructions'], `initdb ${m.name} in ${m.container}`));
  steps.push(writeConfigStep(ctx, m.container, `${m.pgdata}/pg_hba.conf`, renderFormationHba('samenet'), { owner: 'postgres:postgres', mode: '0600', title: `write ${m.container}'s pg_hba.conf (pg_auto_failover's roles from the bridge, every other role by password)`, secret: false }));
  return steps;
}

/** The keeper's unit: `create` while the member does not exist yet, `run` after; (re)started when it changed or stopped. */
function keeperSteps(ctx: PlanContext, m: IncusPgMember, st: PgHaContainerState, unit: string, what: string): PlanStep[] {
  const same = st.facts[KEEPER_UNIT] === sha256(unit);
  if (same && st.facts[`unit:${KEEPER}`] === 'active') return [];
  return [
    ...(same ? [] : [
      writeConfigStep(ctx, m.container, KEEPER_UNIT, unit, { owner: 'root:root', mode: '0644', title: `write ${m.container}'s ${KEEPER}.service (${what})`, secret: false }),
      reloadSystemd(ctx.client, m.container),
    ]),
    restartStep(ctx, m.container, KEEPER),
  ];
}

/**
 * The formation's steps, in pg_auto_failover's order: every container with
 * its packages, the monitor, node 1 (waited for until it is registered as
 * primary), the other nodes (each data node with the repository mounted and
 * its pgbackrest.conf; node 1 with the archive settings before it first
 * starts), the settle wait, then the sync-standby setting, the app role on
 * the primary, the stanza, the backup timers and PgBouncer with its
 * follower. Nothing when
 * everything runs as wanted. `again`: a stopped container is started first
 * and the rest planned from what it holds.
 */
export function planPgHa(ctx: PlanContext, h: IncusPgHa, st: PgHaState): { steps: PlanStep[]; notes: string[]; again?: boolean } {
  const { env, client } = ctx;
  const password = ctx.secrets.postgres;
  const members = [h.monitor, ...h.nodes];
  const memberStates = [st.monitor, ...st.nodes];
  const containers = [
    ...members.flatMap((m, i) => {
      const s = memberStates[i]!;
      const node = m !== h.monitor;
      const installed = s.facts.installed === '1' && (!node || Boolean(s.facts[PGBACKREST]));
      return planContainer(ctx, { container: m.container, data: `${env.name}/${m.container.slice(env.prefix.length)}`, exists: s.exists, running: s.running, installed }, node ? NODE_PACKAGES : MEMBER_PACKAGES);
    }),
    ...planContainer(ctx, { container: h.pgbouncer.container, data: `${env.name}/pgbouncer`, exists: st.pgbouncer.exists, running: st.pgbouncer.running, installed: st.pgbouncer.facts.installed === '1' }, PGBOUNCER_PACKAGES),
  ];
  if ([...memberStates, st.pgbouncer].some((s) => s.exists && !s.running)) return { steps: containers, notes: ['stopped HA containers start first; the rest is planned from what they hold'], again: true };
  if (h.backrest.s3 && !st.frontCert) return { steps: containers, notes: [`the formation is planned once MinIO's TLS front in ${frontContainer(env)} has its certificate (provision makes it first)`], again: true };

  const database = env.data.postgres.database;
  const role = (m: IncusPgMember) => (m === h.monitor ? 'monitor' : m.name);
  const createUnit = (m: IncusPgMember) => keeperUnit(role(m), createArgs(h, m, database));
  // Still to be created: no cluster yet, or a create that has not finished (its unit is rewritten to `run` only once
  // the formation settled), so a provision killed half-way resumes pg_autoctl's create rather than running a half-made member.
  const fresh = members.map((m, i) => {
    const f = memberStates[i]!.facts;
    return !f[`${m.pgdata}/PG_VERSION`] || f[KEEPER_UNIT] === sha256(createUnit(m));
  });
  const unitFor = (m: IncusPgMember, i: number) => (fresh[i] ? createUnit(m) : keeperUnit(role(m), runArgs(m.pgdata)));
  const formation: PlanStep[] = [];
  if (!h.backrest.s3 && st.nodes.some((s) => !repoReached(h, s, st.frontCert))) formation.push({ kind: 'mkdir', title: `create the repository ${h.backrest.hostRepo} on the Incus host`, path: h.backrest.hostRepo, mode: 0o750 });
  members.forEach((m, i) => {
    const s = memberStates[i]!;
    formation.push(...memberInit(ctx, m, s, m === h.monitor || m === h.nodes[0]));
    if (m !== h.monitor) formation.push(...backrestNodeSteps(ctx, h, m, s, st, m === h.nodes[0]));
    formation.push(...keeperSteps(ctx, m, s, unitFor(m, i), fresh[i] ? 'create and run' : 'run'));
    if (m === h.monitor && fresh[i]) formation.push(waitStep(`wait for the monitor in ${m.container}`, `the monitor answers in ${m.container}`, 120_000, async () => (await readFormationOnIncus(client, h)) !== undefined));
    if (m === h.nodes[0] && fresh[i]) formation.push(waitStep(`wait for ${m.name} to register as the primary`, `${m.name} (${m.container}) is registered as primary`, 180_000, async () => (await readFormationOnIncus(client, h))?.formation.primary?.host === m.host));
  });
  const settled: WaitSpec = { what: `the formation of ${env.name} has one primary, taking writes, and ${h.nodes.length - 1} secondaries`, timeoutMs: 300_000, intervalMs: 1_000, check: () => formationSettledOnIncus(client, h) };
  if (formation.length || !st.formation?.healthy) formation.push({ kind: 'wait', title: 'wait for the formation to settle', ...settled });
  // Created: from now on each keeper only runs its member (systemd reads the new unit at the next start).
  members.forEach((m, i) => {
    if (!fresh[i]) return;
    formation.push(
      writeConfigStep(ctx, m.container, KEEPER_UNIT, keeperUnit(role(m), runArgs(m.pgdata)), { owner: 'root:root', mode: '0644', title: `write ${m.container}'s ${KEEPER}.service (run)`, secret: false }),
      reloadSystemd(client, m.container),
    );
  });
  if ((st.syncStandbys ?? 0) !== h.ha.syncStandbys) {
    formation.push(run(`set number-sync-standbys to ${h.ha.syncStandbys}`, psqlIn(client, h.monitor.container, h.monitor.port, 'pg_auto_failover', setSyncStandbysSql(h.ha.syncStandbys), 'set the formation number-sync-standbys')));
  }
  formation.push(...failoverTimingSteps(ctx, h, st));
  const primary = memberOf(h, st.formation?.primary) ?? h.nodes[0]!;
  if (!st.appReady) {
    formation.push({
      kind: 'run', title: `ensure role ${h.endpoint.user} and database ${database} on the primary (${primary.container})`,
      command: cli.exec(client.scope, primary.container, ['runuser', '-u', 'postgres', '--', 'psql', '--no-psqlrc', '--quiet', '--set', 'ON_ERROR_STOP=1', '--port', String(primary.port), '--dbname', 'postgres'],
        { input: ensureRoleAndDatabaseSql(h.endpoint.user, database, password), description: 'create the app role and database', timeoutMs: 60_000 }),
      again: { tries: 3, settle: settled },
    });
  }
  if (!st.stanzaExists) {
    formation.push(run(`create the pgBackRest stanza in ${repoName(h)} (from the primary, ${primary.container})`, backrestIn(client, h, primary.container, stanzaCreate(), 'pgbackrest stanza-create', 120_000)));
    if (h.backrest.s3) formation.push(writeConfigStep(ctx, frontContainer(env), STANZA_STAMP, stanzaStamp(h.backrest), { owner: 'root:root', mode: '0644', title: 'record where the stanza was made', secret: false }));
  }
  h.nodes.forEach((n, i) => formation.push(...backupTimerSteps(ctx, h, n, st.nodes[i]!)));
  const pgb = pgbouncerSteps(ctx, h, st.pgbouncer, primary);
  if (pgb.length || !st.appReady) {
    pgb.push(waitStep(`wait for ${h.endpoint.user} to log in through PgBouncer`, `role ${h.endpoint.user} logs in through PgBouncer in ${h.pgbouncer.container}`, 60_000, () => appReady(client, h, password)));
  }
  return { steps: [...containers, ...formation, ...pgb], notes: [] };
}

/** The inspection fact holding a node's partition timeout, as its keeper's config file says. */
const partitionFact = (m: IncusPgMember): string => `setting:network_partition_timeout@${autoctlConfigFile(AUTOCTL, m.pgdata)}`;

/** The monitor's failover settings and each keeper's partition timeout (README, "PostgreSQL HA"), where they differ. */
function failoverTimingSteps(ctx: PlanContext, h: IncusPgHa, st: PgHaState): PlanStep[] {
  const want = monitorFailoverSettings(h.ha.failover);
  const stale = staleMonitorSettings(st.monitorSettings, want);
  const steps: PlanStep[] = [];
  if (stale.length) {
    steps.push(run(`set the monitor's failover timing (${stale.map((k) => k.replace('pgautofailover.', '')).join(', ')})`,
      psqlIn(ctx.client, h.monitor.container, h.monitor.port, 'pg_auto_failover', setMonitorSettingsSql(want), "set the monitor's failover timing")));
  }
  const seconds = h.ha.failover.networkPartitionSeconds;
  h.nodes.forEach((n, i) => {
    if (st.nodes[i]?.facts[partitionFact(n)] === String(seconds)) return;
    steps.push(run(`set ${n.name}'s network partition timeout to ${seconds} s`, cli.exec(ctx.client.scope, n.container, autoctlAsPostgres(partitionTimeoutArgs(n.pgdata, seconds)),
      { description: `pg_autoctl config set timeout.network_partition_timeout in ${n.container}`, timeoutMs: 60_000 })));
  });
  return steps;
}

/**
 * A data node's share of pgBackRest: the repository (the host's folder, made
 * first, mounted in; or the front's certificate), its pgbackrest.conf (the
 * passphrase and any S3 key: 0600, content on stdin), and on
 * node 1 before its cluster first starts, the archive settings (a standby
 * gets them with pg_basebackup's copy).
 */
function backrestNodeSteps(ctx: PlanContext, h: IncusPgHa, m: IncusPgMember, st: PgHaContainerState, pg: PgHaState, first: boolean): PlanStep[] {
  const b = h.backrest;
  const steps: PlanStep[] = [];
  if (!repoReached(h, st, pg.frontCert)) steps.push(...repoAccessSteps(ctx, h, m.container, pg.frontCert, false));
  const conf = backrestConf(ctx, h, pg.cipherPass);
  if (st.facts[b.configFile] !== sha256(conf)) steps.push(writeConfigStep(ctx, m.container, b.configFile, conf, { owner: 'postgres:postgres', mode: '0600', title: `write ${m.container}'s pgbackrest.conf (repository passphrase)`, secret: true }));
  if (first && !st.facts[`${m.pgdata}/PG_VERSION`]) {
    steps.push(writeConfigStep(ctx, m.container, `${m.pgdata}/${ARCHIVE_CONF}`, renderArchiveConf(PGBACKREST, b.configFile), { owner: 'postgres:postgres', mode: '0600', title: `write ${m.container}'s ${ARCHIVE_CONF} (WAL archive into pgBackRest)`, secret: false }));
    steps.push(run(`include ${ARCHIVE_CONF} from ${m.container}'s postgresql.conf`, shellIn(ctx, m.container)(ENSURE_LINE, [`${m.pgdata}/postgresql.conf`, `include '${ARCHIVE_CONF}'`], `include ${ARCHIVE_CONF}`, { timeoutMs: 60_000 })));
  }
  return steps;
}

export const DRILL_PGDATA = '/var/lib/postgresql/drill';

/**
 * The restore drill's throw-away container `<prefix>pg-drill`: Debian's
 * postgresql and pgBackRest, the repository mounted read-only (the drill
 * never writes into it) or the front's certificate to reach the bucket, the latest backup restored with the archive after
 * it, started on the socket only with the drill's overrides. The caller
 * reads it and deletes it.
 */
export function planDrill(ctx: PlanContext, h: IncusPgHa, container: string, cipherPass: string, frontCert: string | undefined): PlanStep[] {
  const exec = (argv: string[], title: string, timeoutMs = 120_000) => run(title, cli.exec(ctx.client.scope, container, argv, { description: title, timeoutMs }));
  const port = h.nodes[0]!.port;
  return [
    ...planContainer(ctx, { container, data: `${ctx.env.name}/pg-drill`, exists: false, running: false, installed: false }, [`postgresql-${PG_MAJOR}`, 'pgbackrest']),
    run(`drop Debian's default cluster in ${container}`, shellIn(ctx, container)(DROP_DEBIAN_CLUSTER, [PG_MAJOR], `drop Debian's default cluster in ${container}`, { timeoutMs: 120_000 })),
    ...repoAccessSteps(ctx, h, container, frontCert, true),
    writeConfigStep(ctx, container, h.backrest.configFile, backrestConf(ctx, h, cipherPass), { owner: 'postgres:postgres', mode: '0600', title: `write ${container}'s pgbackrest.conf (repository passphrase)`, secret: true }),
    exec(['install', '-d', '-o', 'postgres', '-g', 'postgres', '-m', '0700', DRILL_PGDATA], `create ${container}:${DRILL_PGDATA}`),
    run('restore the latest backup into the drill container', backrestIn(ctx.client, h, container, restoreCommand(DRILL_PGDATA), 'pgbackrest restore into the drill container')),
    writeConfigStep(ctx, container, `${DRILL_PGDATA}/veza-drill.conf`, renderDrillOverrides({ host: '', port, socketDir: '/run/postgresql' }), { owner: 'postgres:postgres', mode: '0600', title: 'point the restored copy at the socket only', secret: false }),
    run('include it last', shellIn(ctx, container)(ENSURE_LINE, [`${DRILL_PGDATA}/postgresql.auto.conf`, "include 'veza-drill.conf'"], 'include veza-drill.conf', { timeoutMs: 60_000 })),
    exec(['runuser', '-u', 'postgres', '--', `${BIN}/pg_ctl`, 'start', '--pgdata', DRILL_PGDATA, '--log', `${DRILL_PGDATA}/drill.log`, '--wait', '--timeout', '300', '--silent'], 'start the restored copy', 330_000),
  ];
}

/** One value the restored copy answers (the drill's count and schema version); undefined when the query fails. */
export async function drillValue(client: IncusClient, container: string, port: number, database: string, sql: string): Promise<string | undefined> {
  const r = await queryIn(client, container, port, database, `${sql};\n`, `ask the drill copy: ${sql}`);
  const first = r?.[0];
  return first ? Object.values(first)[0] : undefined;
}

/**
 * The seed's backup schedule in every data node: the weekly full and the
 * daily diff as systemd timers; each node's job backs up only while that
 * node is the primary, so the schedule follows a failover. (The restore
 * drill needs a container of its own: the runner's infra-data:drill.)
 */
export function backupTimers(h: IncusPgHa, m: IncusPgMember): TimerUnits[] {
  const job = (type: 'full' | 'diff', onCalendar: string) => renderTimerUnits({
    name: `veza-backup-${type}`, description: `${type === 'full' ? 'Full' : 'Differential'} pgBackRest backup when this node is the primary`,
    timerDescription: `${type} pgBackRest backup: ${onCalendar}`, workingDirectory: '/', execStart: `/bin/sh ${BACKUP_SCRIPT} ${m.port} ${type}`, onCalendar, randomizedDelay: BACKUP_JITTER,
  });
  return [job('full', h.ha.backup.fullSchedule), job('diff', h.ha.backup.diffSchedule)];
}

function backupTimerSteps(ctx: PlanContext, h: IncusPgHa, m: IncusPgMember, st: PgHaContainerState): PlanStep[] {
  const units = backupTimers(h, m);
  const files = [
    { path: BACKUP_SCRIPT, content: `${BACKUP_IF_PRIMARY}\n`, mode: '0755' },
    ...units.flatMap((u) => [{ path: `/etc/systemd/system/${u.name}.service`, content: u.service, mode: '0644' }, { path: `/etc/systemd/system/${u.name}.timer`, content: u.timer, mode: '0644' }]),
  ].filter((f) => st.facts[f.path] !== sha256(f.content));
  const stopped = units.filter((u) => st.facts[`unit:${u.name}.timer`] !== 'active');
  if (!files.length && !stopped.length) return [];
  return [
    ...files.map((f) => writeConfigStep(ctx, m.container, f.path, f.content, { owner: 'root:root', mode: f.mode, title: `write ${m.container}'s ${posix.basename(f.path)}`, secret: false })),
    reloadSystemd(ctx.client, m.container),
    run(`enable the backup timers in ${m.container}`, cli.exec(ctx.client.scope, m.container, ['systemctl', 'enable', '--now', ...units.map((u) => `${u.name}.timer`)], { description: `enable the backup timers in ${m.container}`, timeoutMs: 60_000 })),
  ];
}

/** `systemctl daemon-reload` in a container, after its unit files changed. */
function reloadSystemd(client: IncusClient, container: string): PlanStep {
  return run(`reload systemd in ${container}`, cli.exec(client.scope, container, ['systemctl', 'daemon-reload'], { description: `reload systemd in ${container}`, timeoutMs: 60_000 }));
}

function waitStep(title: string, what: string, timeoutMs: number, check: () => Promise<boolean>): PlanStep {
  return { kind: 'wait', title, what, timeoutMs, intervalMs: 1_000, check };
}

function pgbouncerSteps(ctx: PlanContext, h: IncusPgHa, st: PgHaContainerState, primary: IncusPgMember): PlanStep[] {
  const p = h.pgbouncer;
  const ct = p.container;
  const f = st.facts;
  const write = (path: string, content: string, title: string, o: { owner?: string; mode?: string; secret?: boolean } = {}): PlanStep[] =>
    (f[path] === sha256(content) ? [] : [writeConfigStep(ctx, ct, path, content, { owner: o.owner ?? 'postgres:postgres', mode: o.mode ?? '0640', title, secret: o.secret ?? false })]);
  const limits = write(PGBOUNCER_LIMITS, renderPgbouncerLimits(h.ha.pgbouncer), `write ${ct}'s pgbouncer.service limits (${pgbouncerFdLimit(h.ha.pgbouncer)} open files)`, { owner: 'root:root', mode: '0644' });
  const server = [
    ...(limits.length ? [
      run(`create ${ct}:${posix.dirname(PGBOUNCER_LIMITS)}`, cli.exec(ctx.client.scope, ct, ['install', '-d', '-m', '0755', posix.dirname(PGBOUNCER_LIMITS)], { description: `create ${posix.dirname(PGBOUNCER_LIMITS)}`, timeoutMs: 60_000 })),
      ...limits, reloadSystemd(ctx.client, ct)] : []),
    ...write(p.iniFile, renderPgbouncerIni(p, h.ha.pgbouncer), `write ${ct}'s pgbouncer.ini (${h.ha.pgbouncer.poolMode} pooling, ${h.ha.pgbouncer.poolSize} server connections)`),
    // Every client needs the role's SCRAM password; the container is reachable only on its bridge.
    ...write(p.hbaFile, renderPgbouncerHba(p.adminUser, h.endpoint.user, '0.0.0.0/0'), `write ${ct}'s PgBouncer hba file (the app role by password, the admin console on the socket only)`),
    ...write(p.userlistFile, renderUserlist(h.endpoint.user, ctx.secrets.postgres, p.adminUser), `write ${ct}'s PgBouncer userlist (role ${h.endpoint.user})`, { mode: '0600', secret: true }),
  ];
  const steps: PlanStep[] = [];
  // The follower owns the database line once it runs; before that, the primary we know.
  if (!f[p.databasesFile]) {
    steps.push(run(`create ${ct}:${p.stateDir}`, cli.exec(ctx.client.scope, ct, ['install', '-d', '-o', 'postgres', '-g', 'postgres', '-m', '0750', p.stateDir], { description: `create ${p.stateDir}`, timeoutMs: 60_000 })));
    steps.push(writeConfigStep(ctx, ct, p.databasesFile, renderPgbouncerDatabases(h.endpoint.database, primary), { owner: 'postgres:postgres', mode: '0640', title: `point PgBouncer at the primary (${primary.host})`, secret: false }));
  }
  steps.push(...server);
  if (server.length || f['unit:pgbouncer'] !== 'active') steps.push(restartStep(ctx, ct, 'pgbouncer'));
  const follower = [
    ...write(p.followerScript, renderPrimaryFollower({ psql: '/usr/bin/psql', monitorUri: `postgres://autoctl_node@${h.monitor.host}:${h.monitor.port}/pg_auto_failover`, database: h.endpoint.database, databasesFile: p.databasesFile, pidFile: p.pidFile }), `write ${ct}'s primary follower`, { owner: 'root:root', mode: '0755' }),
    ...write(p.followerUnit, followerUnit(p.followerScript), `write ${ct}'s veza-pgbouncer-follower.service`, { owner: 'root:root', mode: '0644' }),
  ];
  steps.push(...follower);
  if (follower.length) steps.push(reloadSystemd(ctx.client, ct));
  if (follower.length || f['unit:veza-pgbouncer-follower'] !== 'active') steps.push(restartStep(ctx, ct, 'veza-pgbouncer-follower'));
  return steps;
}
