import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Environment } from '../../config/environment';
import { localAddress } from '../../hosts/naming';
import { localEnvDir } from '../../hosts/local/paths';
import { VezaError } from '../../log/errors';
import type { Command } from '../../ports/process';
import { resolvePostgresPassword, type PostgresEndpoint, type ResolvedPassword } from '../credentials';
import type { DataPlan, PlanStep } from '../plan';
import { snapshotFile, snapshotName, listPartialFiles, listSnapshotFiles, snapshotsToPrune, type SnapshotInfo } from '../snapshots';
import { ensureRoleAndDatabaseSql } from '../sql';
import { INCLUDE_LINE, VEZA_CONF, parsePostmasterPid, renderHba, renderVezaConf, sameSettings, type Postmaster, type ServerSettings } from './pg-files';

/**
 * A local environment's PostgreSQL: the machine's own binaries, a cluster in
 * `.veza/envs/<env>/data/postgres`, listening on the environment's data
 * address. Inspection reads files and /proc (so a dry-run sees the truth);
 * every change is a plan step. Nothing here ever deletes the cluster.
 */
export interface PgPaths {
  root: string;
  pgdata: string;
  /** Unix socket directory, 0700: the socket is trusted because only the server's user reaches it. */
  run: string;
  logDir: string;
  logFile: string;
  passwordDir: string;
  passwordFile: string;
  snapshots: string;
}

export function localPgPaths(workspaceRoot: string, env: string): PgPaths {
  const base = localEnvDir(workspaceRoot, env);
  const root = join(base, 'data');
  return {
    root,
    pgdata: join(root, 'postgres'),
    run: join(root, 'run'),
    logDir: join(root, 'log'),
    logFile: join(root, 'log', 'postgres.log'),
    passwordDir: join(root, 'secrets'),
    passwordFile: join(root, 'secrets', 'postgres-password'),
    snapshots: join(base, 'snapshots'),
  };
}

const TOOLS = ['initdb', 'pg_ctl', 'postgres', 'psql', 'pg_dump'];
/** Administration goes through the socket as this superuser. */
const SUPERUSER = 'postgres';
/** sun_path holds 108 bytes including the final NUL. */
const MAX_SOCKET_PATH = 107;

/**
 * Debian's versioned directories, newest first (or the cluster's own major
 * version, which is the only one that can open it), then PATH.
 */
export function findPostgresBinDir(clusterMajor?: string): string | undefined {
  let versions: string[] = [];
  try {
    versions = readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  } catch {
    // Not Debian-style; PATH may still have them.
  }
  if (clusterMajor) versions = versions.filter((v) => v === clusterMajor);
  const candidates = [...versions.map((v) => `/usr/lib/postgresql/${v}/bin`), ...(clusterMajor ? [] : (process.env.PATH ?? '').split(':').filter(Boolean))];
  return candidates.find((dir) => TOOLS.every((t) => executable(join(dir, t))));
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface LocalPostgres {
  env: Environment;
  paths: PgPaths;
  binDir: string;
  /** The OS user that runs the server: `postgres` when we are root (the server refuses root), else ourselves. */
  serverUser?: string;
  settings: ServerSettings;
  endpoint: PostgresEndpoint;
  retention: number;
}

export function localPostgres(env: Environment, workspaceRoot: string): LocalPostgres {
  const paths = localPgPaths(workspaceRoot, env.name);
  const { port } = env.data.postgres;
  if (port < 1 || port > 65535) throw new VezaError(`data.postgres.port ${port} of ${env.name} is not a TCP port`, 'use 1-65535', 'BAD_CONFIG');
  const socket = join(paths.run, `.s.PGSQL.${port}`);
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    throw new VezaError(`the postgres socket path ${socket} is longer than ${MAX_SOCKET_PATH} bytes`, 'move the workspace to a shorter path', 'BAD_CONFIG');
  }
  const major = readText(join(paths.pgdata, 'PG_VERSION'))?.trim();
  const binDir = findPostgresBinDir(major);
  if (!binDir) {
    throw new VezaError(major ? `PostgreSQL ${major} binaries (which the cluster in ${paths.pgdata} needs) are not installed` : 'no PostgreSQL binaries found (initdb, pg_ctl, postgres, psql, pg_dump)',
      `install them (bash tools/scripts/setup.sh installs postgresql-${major ?? '15'})`, 'MISSING_TOOL');
  }
  const endpoint = localEndpoint(env);
  return {
    env,
    paths,
    binDir,
    serverUser: process.getuid?.() === 0 ? 'postgres' : undefined,
    settings: { host: endpoint.host, port, socketDir: paths.run },
    endpoint,
    retention: env.retention.snapshots,
  };
}

export function localEndpoint(env: Environment): PostgresEndpoint {
  const { port, user, database } = env.data.postgres;
  return { host: localAddress(env, 'data'), port, user, database };
}

export interface PgState {
  initialized: boolean;
  includesVezaConf: boolean;
  vezaConf?: string;
  hba?: string;
  /** The postmaster of this data directory, when one runs. */
  running?: Postmaster;
  /** The app role logs in over TCP with the current password and owns its database. */
  appReady: boolean;
  password: ResolvedPassword;
  snapshots: SnapshotInfo[];
  partials: string[];
}

export async function inspectPostgres(pg: LocalPostgres): Promise<PgState> {
  const { paths } = pg;
  const conf = readText(join(paths.pgdata, 'postgresql.conf'));
  const running = livePostmaster(paths.pgdata);
  const password = (await resolvePostgresPassword(pg.env, paths.passwordFile, { generate: true }))!;
  return {
    initialized: readText(join(paths.pgdata, 'PG_VERSION')) !== undefined,
    includesVezaConf: conf?.split('\n').includes(INCLUDE_LINE) ?? false,
    vezaConf: readText(join(paths.pgdata, VEZA_CONF)),
    hba: readText(join(paths.pgdata, 'pg_hba.conf')),
    running,
    appReady: running !== undefined && (await appCanConnect(pg.endpoint, password.value)),
    password,
    snapshots: await listSnapshotFiles(paths.snapshots),
    partials: await listPartialFiles(paths.snapshots),
  };
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** postmaster.pid names a live postgres process (not a reused pid) — what `pg_ctl status` checks, without running as the server user. */
export function livePostmaster(pgdata: string): Postmaster | undefined {
  const text = readText(join(pgdata, 'postmaster.pid'));
  const pm = text === undefined ? undefined : parsePostmasterPid(text);
  if (!pm) return undefined;
  const comm = readText(`/proc/${pm.pid}/comm`)?.trim();
  return comm === 'postgres' || comm === 'postmaster' ? pm : undefined;
}

async function appCanConnect(e: PostgresEndpoint, password: string): Promise<boolean> {
  // Loaded here, not with the module: every command builds a data tier, few connect (pg is ~60 ms of a CLI start).
  const { Client } = await import('pg');
  const client = new Client({ host: e.host, port: e.port, user: e.user, database: e.database, password, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    const res = await client.query<{ owner: string }>('SELECT pg_catalog.pg_get_userbyid(datdba) AS owner FROM pg_catalog.pg_database WHERE datname = current_database()');
    return res.rows[0]?.owner === e.user;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function tool(pg: LocalPostgres, name: string): string {
  return join(pg.binDir, name);
}

/** initdb and pg_ctl refuse to run as root: when we are root they run as the server's user. */
function asServer(pg: LocalPostgres, argv: string[], description: string, timeoutMs: number): Command {
  return { argv: pg.serverUser ? ['runuser', '-u', pg.serverUser, '--', ...argv] : argv, cwd: pg.paths.root, description, timeoutMs };
}

function where(pg: LocalPostgres): string {
  const e = pg.endpoint;
  return `${e.host}:${e.port} (database ${e.database}, role ${e.user})`;
}

export function startStep(pg: LocalPostgres): PlanStep {
  const argv = [tool(pg, 'pg_ctl'), 'start', '--pgdata', pg.paths.pgdata, '--log', pg.paths.logFile, '--wait', '--timeout', '60', '--silent'];
  return { kind: 'run', title: `start postgres of ${pg.env.name} on ${pg.settings.host}:${pg.settings.port}`, command: asServer(pg, argv, 'start the local postgres', 90_000), failureLog: pg.paths.logFile };
}

export function stopStep(pg: LocalPostgres): PlanStep {
  const argv = [tool(pg, 'pg_ctl'), 'stop', '--pgdata', pg.paths.pgdata, '--mode', 'fast', '--wait', '--timeout', '60', '--silent'];
  return { kind: 'run', title: `stop postgres of ${pg.env.name}`, command: asServer(pg, argv, 'stop the local postgres', 90_000) };
}

/** `postgres -C` parses the configuration files as a start would, without touching the running server. */
function configCheckStep(pg: LocalPostgres): PlanStep {
  const argv = [tool(pg, 'postgres'), '-D', pg.paths.pgdata, '-C', 'port'];
  return { kind: 'run', title: `check that postgres accepts the new settings of ${pg.env.name}`, command: asServer(pg, argv, 'check the new postgres settings', 30_000) };
}

/** The files as they were, and the server restarted on them (pg_ctl restart also starts a stopped one). */
function restoreSteps(pg: LocalPostgres, state: PgState): PlanStep[] {
  const files: [string, string | undefined][] = [[VEZA_CONF, state.vezaConf], ['pg_hba.conf', state.hba]];
  const restore = files.flatMap(([name, content]): PlanStep[] => content === undefined ? [] : [
    { kind: 'write', title: `restore the previous ${name}`, path: join(pg.paths.pgdata, name), content, mode: 0o600, ownerLike: pg.paths.pgdata },
  ]);
  const argv = [tool(pg, 'pg_ctl'), 'restart', '--pgdata', pg.paths.pgdata, '--log', pg.paths.logFile, '--mode', 'fast', '--wait', '--timeout', '60', '--silent'];
  return [...restore, { kind: 'run', title: `restart postgres of ${pg.env.name} on its previous settings`, command: asServer(pg, argv, 'restart the local postgres on its previous settings', 90_000), failureLog: pg.paths.logFile }];
}

/** Creates what is missing, rewrites what drifted, starts what is stopped; an up-to-date server gives no steps. */
export function planProvision(pg: LocalPostgres, state: PgState, opts: { release?: string } = {}): DataPlan {
  const { paths } = pg;
  const steps: PlanStep[] = [];
  if (!state.initialized) {
    steps.push({ kind: 'mkdir', title: 'create the data folder', path: paths.root, mode: 0o755 });
    for (const path of [paths.pgdata, paths.run, paths.logDir]) steps.push({ kind: 'mkdir', title: `create ${path}`, path, mode: 0o700 });
    if (pg.serverUser) {
      steps.push({ kind: 'run', title: `hand the server folders to the ${pg.serverUser} user`, command: { argv: ['chown', `${pg.serverUser}:`, paths.pgdata, paths.run, paths.logDir], description: 'chown the postgres folders' } });
      steps.push({
        kind: 'run',
        title: `check that the ${pg.serverUser} user can reach ${paths.pgdata}`,
        command: asServer(pg, ['test', '-w', paths.pgdata], `check that the ${pg.serverUser} user can write ${paths.pgdata}; every parent folder must be traversable (chmod o+x)`, 10_000),
      });
    }
    const initdb = [tool(pg, 'initdb'), '--pgdata', paths.pgdata, '--username', SUPERUSER, '--auth-local', 'trust', '--auth-host', 'scram-sha-256', '--encoding', 'UTF8', '--no-locale', '--no-instructions'];
    steps.push({ kind: 'run', title: `initdb ${paths.pgdata}`, command: asServer(pg, initdb, 'create the postgres cluster', 120_000) });
  }
  if (state.password.source === 'generated') {
    steps.push({ kind: 'mkdir', title: 'create the secrets folder', path: paths.passwordDir, mode: 0o700 });
    steps.push({ kind: 'write', title: `store the generated password of role ${pg.endpoint.user}`, path: paths.passwordFile, content: state.password.value + '\n', mode: 0o600, secret: true });
  }

  const vezaConf = renderVezaConf(pg.settings);
  const hba = renderHba();
  const fresh = !state.initialized;
  const configSteps: PlanStep[] = [];
  if (fresh || !state.includesVezaConf) configSteps.push({ kind: 'ensure-line', title: `include ${VEZA_CONF} from postgresql.conf`, path: join(paths.pgdata, 'postgresql.conf'), line: INCLUDE_LINE });
  if (fresh || state.vezaConf !== vezaConf) configSteps.push({ kind: 'write', title: `write ${VEZA_CONF} (listen address, port, socket)`, path: join(paths.pgdata, VEZA_CONF), content: vezaConf, mode: 0o600, ownerLike: paths.pgdata });
  if (fresh || state.hba !== hba) configSteps.push({ kind: 'write', title: 'write pg_hba.conf (socket: trust, TCP: password)', path: join(paths.pgdata, 'pg_hba.conf'), content: hba, mode: 0o600, ownerLike: paths.pgdata });

  const restart = state.running !== undefined && (configSteps.length > 0 || !sameSettings(state.running, pg.settings));
  const moves = state.running !== undefined && (state.running.host !== pg.settings.host || state.running.port !== pg.settings.port);
  // A running server is moved, never dropped: the new address is proven bindable before anything changes,
  // the new files are proven readable by postgres before it stops, and any failure puts the old files back.
  if (moves) steps.push({ kind: 'check-bind', title: `check that ${pg.settings.host}:${pg.settings.port} is free to listen on`, host: pg.settings.host, port: pg.settings.port });
  steps.push(...configSteps);
  if (restart) steps.push(configCheckStep(pg), stopStep(pg));
  if (!state.running || restart) steps.push(startStep(pg));
  if (!state.appReady) {
    steps.push({
      kind: 'run',
      title: `ensure role ${pg.endpoint.user} and database ${pg.endpoint.database}`,
      command: {
        argv: [tool(pg, 'psql'), '--no-psqlrc', '--quiet', '--set', 'ON_ERROR_STOP=1', '--host', paths.run, '--port', String(pg.settings.port), '--username', SUPERUSER, '--dbname', 'postgres'],
        input: ensureRoleAndDatabaseSql(pg.endpoint.user, pg.endpoint.database, state.password.value),
        description: 'create the app role and database',
        timeoutMs: 60_000,
      },
    });
  }

  const serverChanged = steps.length > 0;
  const snap = opts.release === undefined ? { steps: [], notes: [] } : planSnapshot(pg, state, opts.release);
  return {
    steps: [...steps, ...snap.steps],
    notes: snap.notes,
    ...(restart ? { rollback: restoreSteps(pg, state) } : {}),
    summary: serverChanged
      ? `postgres of ${pg.env.name} ready at ${where(pg)}`
      : `postgres of ${pg.env.name} already provisioned at ${where(pg)}${snap.steps.length === 0 ? ': nothing to do' : ''}`,
  };
}

/**
 * `pre-deploy-<release>`: pg_dump of the app database into a partial file,
 * renamed into place once complete; skipped when it exists. Needs the server
 * running (provision puts it first). Pruning is planSnapshotPrune's, after a
 * deploy succeeded.
 */
export function planSnapshot(pg: LocalPostgres, state: PgState, release: string): { steps: PlanStep[]; notes: string[] } {
  const name = snapshotName(release);
  if (pg.retention === 0) return { steps: [], notes: [`snapshots are off for ${pg.env.name} (retention.snapshots: 0)`] };
  if (!state.initialized) return { steps: [], notes: [`first provision of ${pg.env.name}: no data to snapshot before ${release}`] };
  const steps: PlanStep[] = [];
  const notes: string[] = [];
  const file = snapshotFile(pg.paths.snapshots, release);
  if (state.snapshots.some((s) => s.name === name)) {
    notes.push(`snapshot ${name} exists: kept`);
  } else {
    const dump = [tool(pg, 'pg_dump'), '--format', 'custom', '--host', pg.paths.run, '--port', String(pg.settings.port), '--username', SUPERUSER, '--dbname', pg.endpoint.database, '--file', file.partial];
    steps.push(
      { kind: 'mkdir', title: 'create the snapshots folder', path: pg.paths.snapshots, mode: 0o700 },
      { kind: 'run', title: `snapshot ${pg.endpoint.database} as ${name}`, command: { argv: dump, description: `pg_dump ${pg.endpoint.database} before deploying ${release}`, timeoutMs: 30 * 60_000 } },
      { kind: 'rename', title: `complete ${name}`, from: file.partial, to: file.path },
    );
  }
  for (const partial of state.partials.filter((p) => p !== file.partial)) steps.push({ kind: 'remove', title: 'remove an unfinished snapshot', path: partial });
  return { steps, notes };
}

/** The snapshots beyond the retention, never those of `keep` (see snapshotsToPrune). */
export function planSnapshotPrune(pg: LocalPostgres, snapshots: SnapshotInfo[], keep: readonly string[]): PlanStep[] {
  return snapshotsToPrune(snapshots, keep, pg.retention).map((old): PlanStep => (
    { kind: 'remove', title: `prune snapshot ${old.name} (keeping ${pg.retention} and the live and previous releases')`, path: old.path }));
}
