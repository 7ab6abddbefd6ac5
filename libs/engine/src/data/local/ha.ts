import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Client, ClientConfig } from 'pg';
import { haSettings, type Environment, type HaSettings } from '../../config/environment';
import { localEnvDir } from '../../hosts/local/paths';
import { LOCAL_HOST_OCTET, localAddress } from '../../hosts/naming';
import { VezaError } from '../../log/errors';
import { registerSecret } from '../../log/redact';
import type { Command } from '../../ports/process';
import { readJsonOr } from '../../util/atomic';
import { isAlive, type ProcessIdentity } from '../../util/proc';
import { resolvePostgresPassword, type PostgresEndpoint, type ResolvedPassword } from '../credentials';
import {
  autoctl, autoctlConfigFile, createMonitorArgs, createNodeArgs, MONITOR_SETTINGS_SQL, monitorFailoverSettings, NODE_ROWS_SQL, partitionTimeoutArgs, partitionTimeoutIn, pinMonitorListenArgs, readFormation,
  readMonitorSettings, renderFormationHba, runArgs, setMonitorSettingsSql, setSyncStandbysSql, staleMonitorSettings, type AutoctlEnv, type AutoctlNode, type FormationState, type NodeRow,
} from '../ha/formation';
import { backrestArgs, renderArchiveConf, renderBackrestConf, repoLabel, stanzaCreate, stanzaStamp, type BackrestLayout } from '../ha/pgbackrest';
import { haMetricsDir } from '../ha/metrics-files';
import { runnerTimerFiles, runnerTimers, runnerTimerSteps, type RunnerTimers } from '../ha/timers';
import { renderPgbouncerDatabases, renderPgbouncerHba, renderPgbouncerIni, renderPrimaryFollower, renderUserlist, type PgbouncerLayout } from '../ha/pgbouncer';
import type { DataPlan, PlanStep } from '../plan';
import { ensureRoleAndDatabaseSql } from '../sql';
import { localTlsFront } from './minio-tls';
import { readText } from './pids';
import { findPostgresBinDir, localPgPaths } from './postgres';

/**
 * The HA topology on `local`: a pg_auto_failover monitor and `nodes` data
 * nodes run by pg_autoctl as processes, each on its own loopback address
 * (`<subnet>.20` the monitor, `.21`… the nodes) and port (`port`, `port+1`…),
 * PgBouncer on the environment's data address, a primary follower that
 * re-points PgBouncer after a failover, and pgBackRest archiving into a
 * posix repository. Everything lives under `.veza/envs/<env>/ha/`; every
 * process is found again by its identity file and stopped by pid.
 */
export interface HaLayout {
  env: Environment;
  ha: HaSettings;
  root: string;
  binDir: string;
  /** The OS user of every process: `postgres` when we are root (pg_autoctl, postgres and pgbouncer refuse root). */
  serverUser?: string;
  /** Debian's postgres socket folder; pg_autoctl's servers use it. */
  socketDir: string;
  autoctl: AutoctlEnv;
  monitor: AutoctlNode;
  nodes: AutoctlNode[];
  pids: { monitor: string; nodes: string[]; pgbouncer: string; follower: string };
  logDir: string;
  pgbouncer: PgbouncerLayout & { iniFile: string; followerScript: string };
  /** `stanzaStamp`: with an S3 repository, records where the stanza was made (the bucket cannot be read without MinIO). */
  backrest: BackrestLayout & { cipherFile: string; stanzaStamp: string };
  secretsDir: string;
  passwordFile: string;
  metricsDir: string;
  drill: { pgdata: string; host: string; port: number; logFile: string };
  /** Where the app connects: PgBouncer. */
  endpoint: PostgresEndpoint;
  /** Folders veza creates (owned by the server user). */
  folders: string[];
  /** The backup and drill timers (systemd units), outside the server user's folders: root runs them. */
  timers: RunnerTimers;
}

const PGBACKREST = '/usr/bin/pgbackrest';
const PGBOUNCER = '/usr/sbin/pgbouncer';

export function haRoot(workspaceRoot: string, env: string): string {
  return join(localEnvDir(workspaceRoot, env), 'ha');
}

export function haLayout(env: Environment, workspaceRoot: string): HaLayout {
  const ha = haSettings(env);
  if (!ha) throw new VezaError(`environment ${env.name} does not use the ha topology`, 'set data.postgres.topology: ha', 'BAD_CONFIG');
  const root = haRoot(workspaceRoot, env.name);
  const binDir = findPostgresBinDir('15');
  if (!binDir) throw new VezaError('PostgreSQL 15 binaries are not installed', 'bash tools/scripts/setup.sh installs postgresql-15 and pg_auto_failover', 'MISSING_TOOL');
  for (const [tool, pkg] of [['/usr/bin/pg_autoctl', 'pg-auto-failover-cli'], [PGBOUNCER, 'pgbouncer'], [PGBACKREST, 'pgbackrest'], [join(binDir, '../lib/pgautofailover.so'), 'postgresql-15-auto-failover']] as const) {
    if (!existsSync(tool)) throw new VezaError(`${tool} is missing`, `install ${pkg} (bash tools/scripts/setup.sh)`, 'MISSING_TOOL');
  }
  const { port, user, database } = env.data.postgres;
  const subnet = env.local?.subnet;
  if (!subnet) throw new VezaError(`environment ${env.name} has no local.subnet`, 'set local.subnet', 'BAD_CONFIG');
  const node = (name: string, octet: number, p: number): AutoctlNode => ({ name, host: `${subnet}.${octet}`, port: p, pgdata: join(root, name) });
  const monitor = node('monitor', LOCAL_HOST_OCTET.pgMonitor, port);
  const nodes = Array.from({ length: ha.nodes }, (_, i) => node(`node${i + 1}`, LOCAL_HOST_OCTET.pgMonitor + 1 + i, port + 1 + i));
  const dataHost = localAddress(env, 'data');
  const logDir = join(root, 'log');
  const pids = join(root, 'pids');
  const pgb = join(root, 'pgbouncer');
  const backup = join(root, 'backup');
  const secretsDir = join(root, 'secrets');
  const socketDir = '/var/run/postgresql';
  const xdg = join(root, 'xdg');
  return {
    env,
    ha,
    root,
    binDir,
    serverUser: process.getuid?.() === 0 ? 'postgres' : undefined,
    socketDir,
    autoctl: { binDir, xdgConfig: join(xdg, 'config'), xdgData: join(xdg, 'data'), xdgRuntime: join(xdg, 'run') },
    monitor,
    nodes,
    pids: { monitor: join(pids, 'monitor.json'), nodes: nodes.map((n) => join(pids, `${n.name}.json`)), pgbouncer: join(pids, 'pgbouncer.json'), follower: join(pids, 'follower.json') },
    logDir,
    pgbouncer: {
      listenHost: dataHost,
      listenPort: ha.pgbouncer.port,
      socketDir: join(pgb, 'run'),
      adminUser: 'postgres',
      databasesFile: join(pgb, 'databases.ini'),
      userlistFile: join(pgb, 'userlist.txt'),
      hbaFile: join(pgb, 'hba.conf'),
      pidFile: join(pgb, 'pgbouncer.pid'),
      logFile: join(logDir, 'pgbouncer.log'),
      iniFile: join(pgb, 'pgbouncer.ini'),
      followerScript: join(pgb, 'follow-primary.sh'),
    },
    backrest: {
      configFile: join(backup, 'pgbackrest.conf'),
      repoPath: ha.backup.repository.path ?? join(backup, 'repo'),
      logPath: join(logDir, 'pgbackrest'),
      lockPath: join(backup, 'lock'),
      spoolPath: join(backup, 'spool'),
      nodes: nodes.map((n) => ({ pgdata: n.pgdata, port: n.port, socketDir })),
      cipherFile: join(secretsDir, 'repo-cipher-pass'),
      s3: localTlsFront(env, localPgPaths(workspaceRoot, env.name).root)?.target,
      stanzaStamp: join(backup, 'stanza-s3'),
    },
    secretsDir,
    passwordFile: join(secretsDir, 'postgres-password'),
    metricsDir: haMetricsDir(workspaceRoot, env.name),
    drill: { pgdata: join(root, 'drill'), host: dataHost, port, logFile: join(logDir, 'drill.log') },
    endpoint: { host: dataHost, port: ha.pgbouncer.port, user, database },
    timers: runnerTimers(env.name, ha.backup, workspaceRoot),
    folders: [root, logDir, join(logDir, 'pgbackrest'), pids, pgb, join(pgb, 'run'), backup, join(backup, 'lock'), join(backup, 'spool'), xdg, join(xdg, 'config'), join(xdg, 'data'), join(xdg, 'run'), join(root, 'metrics')],
  };
}

/** Runs `argv` as the server user (runuser when we are root). */
export function asServer(l: HaLayout, argv: string[], description: string, timeoutMs = 120_000, input?: string): Command {
  return { argv: l.serverUser ? ['runuser', '-u', l.serverUser, '--', ...argv] : argv, cwd: l.root, description, timeoutMs, ...(input === undefined ? {} : { input }) };
}

export function autoctlCommand(l: HaLayout, args: string[], description: string, timeoutMs = 120_000): Command {
  return asServer(l, autoctl(l.autoctl, args), description, timeoutMs);
}

export function backrestCommand(l: HaLayout, command: string[], description: string, timeoutMs = 30 * 60_000): Command {
  return asServer(l, backrestArgs(PGBACKREST, l.backrest.configFile, command), description, timeoutMs);
}

const psqlArgv = (l: HaLayout) => [join(l.binDir, 'psql'), '--no-psqlrc', '--quiet', '--set', 'ON_ERROR_STOP=1'];

/** psql as the postgres superuser over a node's socket (trusted: only the server user reaches it). */
export function superPsql(l: HaLayout, port: number, extra: string[]): string[] {
  return [...psqlArgv(l), '--host', l.socketDir, '--port', String(port), '--username', 'postgres', ...extra];
}

/**
 * psql as the superuser on whichever node takes writes when it runs (libpq
 * tries each node's socket): the primary a plan saw may have changed by the
 * time its step runs, after a crash or a failover.
 */
export function primaryPsql(l: HaLayout, database: string): string[] {
  const conninfo = `host=${l.nodes.map(() => l.socketDir).join(',')} port=${l.nodes.map((n) => n.port).join(',')} user=postgres dbname=${database} target_session_attrs=read-write`;
  return [...psqlArgv(l), '--dbname', conninfo];
}

export interface HaState {
  missingFolders: string[];
  monitorInitialized: boolean;
  nodesInitialized: boolean[];
  running: { monitor: boolean; nodes: boolean[]; pgbouncer: boolean; follower: boolean };
  formation?: FormationState;
  syncStandbys?: number;
  /** The monitor's pgautofailover.* settings, when it answers. */
  monitorSettings?: Record<string, string>;
  password: ResolvedPassword;
  cipherPass: { value: string; generated: boolean };
  files: Record<string, string | undefined>;
  appReady: boolean;
  stanzaExists: boolean;
}

export async function runningId(pidFile: string): Promise<ProcessIdentity | undefined> {
  const id = await readJsonOr<ProcessIdentity | undefined>(pidFile, undefined);
  return id && isAlive(id) ? id : undefined;
}

async function withClient<T>(config: ClientConfig, fn: (c: Client) => Promise<T>): Promise<T> {
  // Loaded here, not with the module: pg's first load also loads Node's own fetch (~0.1 s of CPU), and
  // most commands that import the data tier (the CLI's status, rollback) never connect.
  const { Client } = await import('pg');
  const client = new Client({ connectionTimeoutMillis: 3_000, ...config });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The monitor's view of the formation; undefined while the monitor does not answer. */
export async function readFormationState(l: HaLayout): Promise<{ formation: FormationState; syncStandbys?: number; monitorSettings: Record<string, string> } | undefined> {
  try {
    return await withClient({ host: l.monitor.host, port: l.monitor.port, user: 'autoctl_node', database: 'pg_auto_failover' }, async (c) => {
      const rows = (await c.query<NodeRow>(NODE_ROWS_SQL)).rows;
      const monitor = readMonitorSettings((await c.query<{ name: string; setting: string }>(MONITOR_SETTINGS_SQL)).rows);
      return { formation: readFormation(rows), syncStandbys: monitor.syncStandbys, monitorSettings: monitor.settings };
    });
  } catch {
    return undefined;
  }
}

/** A query as the app role through PgBouncer. */
export function queryThroughPooler<T extends object>(l: HaLayout, password: string, sql: string): Promise<T[]> {
  const e = l.endpoint;
  return withClient({ host: e.host, port: e.port, user: e.user, database: e.database, password }, async (c) => (await c.query<T>(sql)).rows);
}

/** A query as the superuser over a server's socket (the drill's restored copy, a CHECKPOINT on the primary). */
export function querySuper<T extends object>(socketDir: string, port: number, database: string, sql: string): Promise<T[]> {
  return withClient({ host: socketDir, port, user: 'postgres', database }, async (c) => (await c.query<T>(sql)).rows);
}

export async function inspectHa(l: HaLayout): Promise<HaState> {
  const password = (await resolvePostgresPassword(l.env, l.passwordFile, { generate: true }))!;
  const storedCipher = readText(l.backrest.cipherFile)?.trim();
  const cipherPass = storedCipher ? { value: storedCipher, generated: false } : { value: randomBytes(32).toString('base64url'), generated: true };
  registerSecret(cipherPass.value);
  const monitorRunning = (await runningId(l.pids.monitor)) !== undefined;
  const read = monitorRunning ? await readFormationState(l) : undefined;
  const pgbouncerRunning = (await runningId(l.pids.pgbouncer)) !== undefined;
  const files = Object.fromEntries([l.pgbouncer.iniFile, l.pgbouncer.hbaFile, l.pgbouncer.userlistFile, l.pgbouncer.followerScript, l.pgbouncer.databasesFile, l.backrest.configFile, ...l.nodes.map(archiveConfPath), ...runnerTimerFiles(l.timers).map((f) => f.path), ...l.nodes.map((n) => autoctlConfigFile(l.autoctl, n.pgdata))]
    .map((f) => [f, readText(f)]));
  return {
    missingFolders: l.folders.filter((f) => !existsSync(f)),
    monitorInitialized: existsSync(join(l.monitor.pgdata, 'PG_VERSION')),
    nodesInitialized: l.nodes.map((n) => existsSync(join(n.pgdata, 'PG_VERSION'))),
    running: {
      monitor: monitorRunning,
      nodes: await Promise.all(l.pids.nodes.map(async (p) => (await runningId(p)) !== undefined)),
      pgbouncer: pgbouncerRunning,
      follower: (await runningId(l.pids.follower)) !== undefined,
    },
    formation: read?.formation,
    syncStandbys: read?.syncStandbys,
    monitorSettings: read?.monitorSettings,
    password,
    cipherPass,
    files,
    appReady: pgbouncerRunning && read?.formation.healthy === true && (await queryThroughPooler(l, password.value, 'SELECT 1').then(() => true, () => false)),
    stanzaExists: l.backrest.s3 ? readText(l.backrest.stanzaStamp) === stanzaStamp(l.backrest) : existsSync(join(l.backrest.repoPath, 'backup', 'veza', 'backup.info')),
  };
}

/**
 * While a standby is being cloned, pg_basebackup waits for the primary's
 * next checkpoint, which pg_autoctl does not ask to be fast: a CHECKPOINT
 * on the primary ends that wait instead of minutes of spread checkpoint.
 */
export async function formationSettled(l: HaLayout): Promise<boolean> {
  const read = await readFormationState(l);
  if (!read) return false;
  const { formation } = read;
  const primary = formation.primary ?? formation.nodes.find((n) => n.state === 'wait_primary');
  if (primary && formation.nodes.some((n) => n.state === 'catchingup' || n.goal === 'catchingup')) {
    await querySuper(l.socketDir, primary.port, 'postgres', 'CHECKPOINT').catch(() => undefined);
  }
  return formation.healthy && formation.nodes.length === l.nodes.length && (await primaryAnswers(l, formation.primary!));
}

/**
 * Whether the node the monitor names primary answers as one, taking writes. The monitor
 * still names a crashed primary, healthy, until its health checks give up
 * on it; a provision run meanwhile restarts it and must wait for it.
 */
export function primaryAnswers(l: HaLayout, primary: { port: number }): Promise<boolean> {
  // A node pg_autoctl brings back may answer before it takes writes (seen: 'read-only transaction' right after the wait).
  return querySuper<{ w: boolean }>(l.socketDir, primary.port, 'postgres', "SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off' AS w").then((rows) => rows[0]?.w === true, () => false);
}

function serverFile(l: HaLayout, title: string, path: string, content: string, state: HaState, mode = 0o600, secret = false): PlanStep[] {
  if (state.files[path] === content) return [];
  return [{ kind: 'write', title, path, content, mode, secret, ownerLike: l.root }];
}

function initdbSteps(l: HaLayout, n: AutoctlNode, extra: PlanStep[]): PlanStep[] {
  const initdb = [join(l.binDir, 'initdb'), '--pgdata', n.pgdata, '--username', 'postgres', '--auth-local', 'trust', '--auth-host', 'scram-sha-256', '--encoding', 'UTF8', '--no-locale', '--no-instructions'];
  return [
    { kind: 'mkdir', title: `create ${n.pgdata}`, path: n.pgdata, mode: 0o700 },
    ...(l.serverUser ? [{ kind: 'run', title: `hand ${n.pgdata} to ${l.serverUser}`, command: { argv: ['chown', `${l.serverUser}:`, n.pgdata], description: 'chown the data folder' } } as PlanStep] : []),
    { kind: 'run', title: `initdb ${n.name}`, command: asServer(l, initdb, `create the ${n.name} cluster`) },
    { kind: 'write', title: `write pg_hba.conf of ${n.name}`, path: join(n.pgdata, 'pg_hba.conf'), content: renderFormationHba('127.0.0.0/8'), mode: 0o600, ownerLike: n.pgdata },
    ...extra,
  ];
}

function spawnStep(l: HaLayout, title: string, argv: string[], pidFile: string, log: string): PlanStep {
  return { kind: 'spawn', title, command: asServer(l, argv, title), pidFile, logFile: join(l.logDir, log) };
}

const ARCHIVE_CONF = 'veza-archive.conf';
const archiveConfPath = (n: AutoctlNode) => join(n.pgdata, ARCHIVE_CONF);

/**
 * A node's archive settings written by an older veza (archive_command bound
 * to the first node's folder, which fails once another node is primary):
 * rewritten, and a running node reloads them.
 */
function archiveConfSteps(l: HaLayout, state: HaState): PlanStep[] {
  const content = renderArchiveConf(PGBACKREST, l.backrest.configFile);
  return l.nodes.flatMap((n, i) => {
    const current = state.files[archiveConfPath(n)];
    if (current === undefined || current === content) return [];
    return [
      { kind: 'write', title: `rewrite ${ARCHIVE_CONF} of ${n.name}`, path: archiveConfPath(n), content, mode: 0o600, ownerLike: n.pgdata } as PlanStep,
      ...(state.running.nodes[i] ? [{ kind: 'run', title: `reload ${n.name}'s settings`, command: asServer(l, superPsql(l, n.port, ['--dbname', 'postgres', '--command', 'SELECT pg_reload_conf()']), `reload ${n.name}`, 30_000) } as PlanStep] : []),
    ];
  });
}

/** The backup schedule's units, (re)written when they differ; systemd runs them once the operator links them (the note says how). */
function timerSteps(l: HaLayout, state: HaState): { steps: PlanStep[]; notes: string[] } {
  const b = l.ha.backup;
  return runnerTimerSteps(l.timers, state.files, existsSync(l.timers.dir), `backup timers (full ${b.fullSchedule}, diff ${b.diffSchedule}, drill ${b.drillSchedule})`);
}

/**
 * Creates what is missing and starts what is stopped, in the order pg_auto_failover needs: monitor, then the first
 * node (the primary), then the others. `s3Secret`: the backup user's key, with an S3 repository.
 */
export function planHaProvision(l: HaLayout, state: HaState, s3Secret?: string): DataPlan {
  const steps: PlanStep[] = [];
  const { env } = l;
  for (const f of state.missingFolders) steps.push({ kind: 'mkdir', title: `create ${f}`, path: f, mode: 0o755 });
  if (!existsSync(l.secretsDir)) steps.push({ kind: 'mkdir', title: 'create the secrets folder', path: l.secretsDir, mode: 0o700 });
  if (l.serverUser && state.missingFolders.length) {
    steps.push({ kind: 'run', title: `hand the HA folders to ${l.serverUser}`, command: { argv: ['chown', `${l.serverUser}:`, ...l.folders], description: 'chown the HA folders' } });
    steps.push({ kind: 'run', title: `check that ${l.serverUser} can reach ${l.root}`, command: asServer(l, ['test', '-w', l.root], `check that ${l.serverUser} can write ${l.root}; every parent folder must be traversable (chmod o+x)`, 10_000) });
  }
  if (state.password.source === 'generated') {
    steps.push({ kind: 'write', title: `store the generated password of role ${l.endpoint.user}`, path: l.passwordFile, content: state.password.value + '\n', mode: 0o600, secret: true });
  }
  if (state.cipherPass.generated) steps.push({ kind: 'write', title: 'store the generated repository passphrase', path: l.backrest.cipherFile, content: state.cipherPass.value + '\n', mode: 0o600, secret: true });
  steps.push(...serverFile(l, 'write pgbackrest.conf', l.backrest.configFile, renderBackrestConf(l.backrest, l.ha.backup, state.cipherPass.value, s3Secret), state, 0o600, true));
  steps.push(...archiveConfSteps(l, state));

  if (!state.monitorInitialized) {
    steps.push(...initdbSteps(l, l.monitor, [
      { kind: 'run', title: 'create the pg_auto_failover monitor', command: autoctlCommand(l, createMonitorArgs(l.monitor), 'pg_autoctl create monitor') },
      { kind: 'run', title: `pin the monitor to ${l.monitor.host}`, command: autoctlCommand(l, pinMonitorListenArgs(l.monitor), 'pg_autoctl config set listen_addresses') },
    ]));
  }
  if (!state.running.monitor) {
    steps.push(spawnStep(l, `start the monitor on ${l.monitor.host}:${l.monitor.port}`, autoctl(l.autoctl, runArgs(l.monitor.pgdata)), l.pids.monitor, 'monitor.log'));
    steps.push({ kind: 'wait', title: 'wait for the monitor', what: `the monitor answers on ${l.monitor.host}:${l.monitor.port}`, timeoutMs: 60_000, check: async () => (await readFormationState(l)) !== undefined });
  }
  l.nodes.forEach((n, i) => {
    if (state.running.nodes[i]) return;
    const fresh = !state.nodesInitialized[i];
    if (fresh && i === 0) {
      steps.push(...initdbSteps(l, n, [
        { kind: 'write', title: `write ${ARCHIVE_CONF} of ${n.name} (WAL archive into pgBackRest)`, path: archiveConfPath(n), content: renderArchiveConf(PGBACKREST, l.backrest.configFile), mode: 0o600, ownerLike: n.pgdata },
        { kind: 'ensure-line', title: `include ${ARCHIVE_CONF} from postgresql.conf`, path: join(n.pgdata, 'postgresql.conf'), line: `include '${ARCHIVE_CONF}'` },
      ]));
    } else if (fresh) {
      // A standby is cloned from the primary by pg_basebackup: an empty folder, with its configuration (hba, archive) copied.
      steps.push({ kind: 'mkdir', title: `create ${n.pgdata}`, path: n.pgdata, mode: 0o700 });
      if (l.serverUser) steps.push({ kind: 'run', title: `hand ${n.pgdata} to ${l.serverUser}`, command: { argv: ['chown', `${l.serverUser}:`, n.pgdata], description: 'chown the data folder' } });
    }
    const args = fresh ? createNodeArgs(n, l.monitor, env.data.postgres.database) : runArgs(n.pgdata);
    steps.push(spawnStep(l, `${fresh ? 'create and start' : 'start'} ${n.name} on ${n.host}:${n.port}`, autoctl(l.autoctl, args), l.pids.nodes[i]!, `${n.name}.log`));
    if (fresh && i === 0) {
      steps.push({ kind: 'wait', title: `wait for ${n.name} to register as the primary`, what: `${n.name} is registered as primary`, timeoutMs: 120_000, check: async () => (await readFormationState(l))?.formation.primary?.name === n.name });
    }
  });
  const settled = { what: `the formation of ${env.name} has one primary, answering, and ${l.nodes.length - 1} secondaries`, timeoutMs: 300_000, intervalMs: 1_000, check: () => formationSettled(l) };
  steps.push({ kind: 'wait', title: 'wait for the formation to settle', ...settled });
  // A new formation starts at pg_auto_failover's default, 0.
  if ((state.syncStandbys ?? 0) !== l.ha.syncStandbys) {
    steps.push({ kind: 'run', title: `set number-sync-standbys to ${l.ha.syncStandbys}`,
      command: asServer(l, superPsql(l, l.monitor.port, ['--dbname', 'pg_auto_failover']), 'set the formation number-sync-standbys', 30_000, setSyncStandbysSql(l.ha.syncStandbys)) });
  }
  steps.push(...failoverTimingSteps(l, state));
  const primary = state.formation?.primary ?? l.nodes[0]!;
  if (!state.appReady) {
    steps.push({ kind: 'run', title: `ensure role ${l.endpoint.user} and database ${l.endpoint.database} on the primary`,
      command: asServer(l, primaryPsql(l, 'postgres'), 'create the app role and database', 60_000, ensureRoleAndDatabaseSql(l.endpoint.user, l.endpoint.database, state.password.value)),
      // A node restarted just before (a re-run after a crash) can settle and then be restarted by its pg_autoctl under
      // this very statement (seen under load: "server closed the connection unexpectedly"); the SQL only ensures.
      again: { tries: 3, settle: settled } });
  }
  steps.push(...pgbouncerSteps(l, state, primary));
  if (!state.stanzaExists) {
    steps.push({ kind: 'run', title: `create the pgBackRest stanza in ${repoLabel(l.backrest)} (from the primary)`, command: backrestCommand(l, stanzaCreate(), 'pgbackrest stanza-create', 120_000) });
    if (l.backrest.s3) steps.push({ kind: 'write', title: 'record where the stanza was made', path: l.backrest.stanzaStamp, content: stanzaStamp(l.backrest), mode: 0o644 });
  }
  const timers = timerSteps(l, state);
  steps.push(...timers.steps);
  return { steps, notes: timers.notes, summary: steps.every((s) => s.kind === 'wait') ? `HA formation of ${env.name} already provisioned: nothing to do` : `HA formation of ${env.name} ready: PgBouncer at ${l.endpoint.host}:${l.endpoint.port}` };
}

/** The monitor's failover settings and each keeper's partition timeout (README, "PostgreSQL HA"), where they differ. */
function failoverTimingSteps(l: HaLayout, state: HaState): PlanStep[] {
  const want = monitorFailoverSettings(l.ha.failover);
  const stale = staleMonitorSettings(state.monitorSettings, want);
  const steps: PlanStep[] = [];
  if (stale.length) {
    steps.push({ kind: 'run', title: `set the monitor's failover timing (${stale.map((k) => k.replace('pgautofailover.', '')).join(', ')})`,
      command: asServer(l, superPsql(l, l.monitor.port, ['--dbname', 'pg_auto_failover']), "set the monitor's failover timing", 30_000, setMonitorSettingsSql(want)) });
  }
  const seconds = l.ha.failover.networkPartitionSeconds;
  l.nodes.forEach((n) => {
    if (partitionTimeoutIn(state.files[autoctlConfigFile(l.autoctl, n.pgdata)]) === seconds) return;
    steps.push({ kind: 'run', title: `set ${n.name}'s network partition timeout to ${seconds} s`, command: autoctlCommand(l, partitionTimeoutArgs(n.pgdata, seconds), `pg_autoctl config set timeout.network_partition_timeout on ${n.name}`, 30_000) });
  });
  return steps;
}

function pgbouncerSteps(l: HaLayout, state: HaState, primary: { host: string; port: number }): PlanStep[] {
  const p = l.pgbouncer;
  const steps: PlanStep[] = [
    ...serverFile(l, 'write pgbouncer.ini', p.iniFile, renderPgbouncerIni(p, l.ha.pgbouncer), state),
    ...serverFile(l, 'write the PgBouncer hba file', p.hbaFile, renderPgbouncerHba(p.adminUser, l.endpoint.user), state),
    ...serverFile(l, `write the PgBouncer userlist (role ${l.endpoint.user})`, p.userlistFile, renderUserlist(l.endpoint.user, state.password.value, p.adminUser), state, 0o600, true),
    ...serverFile(l, 'write the primary follower', p.followerScript, renderPrimaryFollower({ psql: join(l.binDir, 'psql'), monitorUri: `postgres://autoctl_node@${l.monitor.host}:${l.monitor.port}/pg_auto_failover`, database: l.endpoint.database, databasesFile: p.databasesFile, pidFile: p.pidFile }), state, 0o750),
  ];
  // The follower owns the database line once running; before that, the primary we know.
  if (state.files[p.databasesFile] === undefined) steps.push(...serverFile(l, 'point PgBouncer at the primary', p.databasesFile, renderPgbouncerDatabases(l.endpoint.database, primary), state));
  const changed = steps.length > 0;
  if (!state.running.pgbouncer) {
    steps.push(spawnStep(l, `start PgBouncer on ${p.listenHost}:${p.listenPort}`, [PGBOUNCER, p.iniFile], l.pids.pgbouncer, 'pgbouncer.out'));
    steps.push({ kind: 'wait', title: 'wait for PgBouncer', what: 'PgBouncer writes its pid file', timeoutMs: 30_000, check: async () => existsSync(p.pidFile) });
  } else if (changed) {
    steps.push({ kind: 'run', title: 'reload PgBouncer', command: asServer(l, ['sh', '-c', 'kill -HUP "$(head -n 1 "$1")"', 'reload', p.pidFile], 'reload PgBouncer', 10_000) });
  }
  if (!state.running.follower) steps.push(spawnStep(l, 'start the primary follower', ['/bin/sh', p.followerScript], l.pids.follower, 'follower.log'));
  return steps;
}
