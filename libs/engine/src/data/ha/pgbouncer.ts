import type { HaSettings } from '../../config/environment';

/**
 * PgBouncer in front of the formation (seed 001, day 7): clients connect
 * here, PgBouncer keeps `poolSize` server connections to the primary. The
 * database line lives in its own file, rewritten by the primary follower
 * when the primary changes, then PgBouncer reloads (SIGHUP) without
 * dropping its clients.
 */
export interface PgbouncerLayout {
  listenHost: string;
  listenPort: number;
  /** Unix socket folder: the admin console is reachable only there, by the server's OS user (peer). */
  socketDir: string;
  adminUser: string;
  databasesFile: string;
  userlistFile: string;
  hbaFile: string;
  pidFile: string;
  logFile: string;
}

export function renderPgbouncerIni(l: PgbouncerLayout, s: HaSettings['pgbouncer']): string {
  return [
    '; Managed by veza (infra-data:provision rewrites it).',
    `%include ${l.databasesFile}`,
    '',
    '[pgbouncer]',
    `listen_addr = ${l.listenHost}`,
    `listen_port = ${l.listenPort}`,
    `unix_socket_dir = ${l.socketDir}`,
    'auth_type = hba',
    `auth_hba_file = ${l.hbaFile}`,
    `auth_file = ${l.userlistFile}`,
    `admin_users = ${l.adminUser}`,
    `stats_users = ${l.adminUser}`,
    `pool_mode = ${s.poolMode}`,
    `default_pool_size = ${s.poolSize}`,
    `max_db_connections = ${s.poolSize + s.reservePoolSize}`,
    `reserve_pool_size = ${s.reservePoolSize}`,
    'reserve_pool_timeout = 3',
    `max_client_conn = ${s.maxClientConn}`,
    // A failover leaves connections to the old primary half-open: fail them fast rather than hang a pool.
    'server_connect_timeout = 5',
    'server_login_retry = 1',
    'server_check_delay = 10',
    'query_wait_timeout = 60',
    `pidfile = ${l.pidFile}`,
    `logfile = ${l.logFile}`,
    'log_connections = 0',
    'log_disconnections = 0',
    '',
  ].join('\n');
}

/**
 * PgBouncer's open-file limit: one descriptor per client and per server
 * connection. PgBouncer only logs the limit it gets, never raises it, and a
 * systemd service gets a soft 1024 — below the seed's 1000 clients plus
 * their pool, where accept() fails with EMFILE. Twice PgBouncer's own
 * estimate (max_client_conn + 10 + the pool for each of the two users).
 */
export function pgbouncerFdLimit(s: HaSettings['pgbouncer']): number {
  return 2 * (s.maxClientConn + 10 + 2 * (s.poolSize + s.reservePoolSize));
}

/** A systemd drop-in for Debian's pgbouncer.service, which sets no limit of its own. */
export function renderPgbouncerLimits(s: HaSettings['pgbouncer']): string {
  return `# Managed by veza (infra-data:provision writes it): PgBouncer does not raise its own limit.\n[Service]\nLimitNOFILE=${pgbouncerFdLimit(s)}\n`;
}

/** The one database entry, pointing at the current primary. */
export function renderPgbouncerDatabases(database: string, primary: { host: string; port: number }): string {
  return `[databases]\n${database} = host=${primary.host} port=${primary.port} dbname=${database}\n`;
}

/**
 * Only the app role, from `network` (loopback by default), with its password; the admin console only on the
 * socket, by peer. PgBouncer's hba knows no `samenet`: a container on a bridge passes its CIDR, or 0.0.0.0/0.
 */
export function renderPgbouncerHba(adminUser: string, appUser: string, network = '127.0.0.0/8'): string {
  return [
    `local  pgbouncer  ${adminUser}  peer`,
    `host   all        ${appUser}    ${network}  scram-sha-256`,
    '',
  ].join('\n');
}

/**
 * auth_file: PgBouncer needs the plain password to log in to the server on
 * the client's behalf; the file is 0600. The admin must be listed too, even
 * for peer authentication; its entry is an md5 hash no password has, and
 * the hba file lets it in on the socket only.
 */
export function renderUserlist(user: string, password: string, adminUser: string): string {
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  return `${q(user)} ${q(password)}\n${q(adminUser)} "md5${'0'.repeat(32)}"\n`;
}

/**
 * The primary follower: asks the monitor which node is primary every
 * second and, when it changed, rewrites the database line and reloads
 * PgBouncer. Runs beside PgBouncer for as long as the formation does.
 */
export function renderPrimaryFollower(o: { psql: string; monitorUri: string; database: string; databasesFile: string; pidFile: string }): string {
  return `#!/bin/sh
# Managed by veza: points PgBouncer at the pg_auto_failover primary.
set -u
current=''
while :; do
  primary=$(${o.psql} -X -At -c "SELECT primary_host || ' ' || primary_port FROM pgautofailover.get_primary('default', 0)" '${o.monitorUri}' 2>/dev/null) || primary=''
  if [ -n "$primary" ] && [ "$primary" != "$current" ]; then
    host=\${primary% *} port=\${primary#* }
    printf '[databases]\\n${o.database} = host=%s port=%s dbname=${o.database}\\n' "$host" "$port" > '${o.databasesFile}.tmp' &&
      mv '${o.databasesFile}.tmp' '${o.databasesFile}' &&
      kill -HUP "$(head -n 1 '${o.pidFile}')" &&
      current="$primary" &&
      echo "$(date -u +%FT%TZ) primary is now $host:$port"
  fi
  sleep 1
done
`;
}

export interface PoolRow {
  database: string;
  user: string;
  cl_active: number;
  cl_waiting: number;
  sv_active: number;
  sv_idle: number;
  sv_used: number;
  sv_tested: number;
  sv_login: number;
  pool_mode: string;
}

/** Server connections a pool holds, whatever their state. */
export function serverConnections(p: PoolRow): number {
  return Number(p.sv_active) + Number(p.sv_idle) + Number(p.sv_used) + Number(p.sv_tested) + Number(p.sv_login);
}

/** `psql -A -F '\t'` output (header line, then rows, no footer) as records keyed by the header. */
export function parseAlignedTable(text: string): Record<string, string>[] {
  const [head, ...rows] = text.split('\n').filter((l) => l.length > 0);
  if (!head) return [];
  const cols = head.split('\t');
  return rows.map((r) => Object.fromEntries(r.split('\t').map((v, i) => [cols[i] ?? `col${i}`, v])));
}
