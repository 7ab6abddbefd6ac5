/**
 * The files veza owns inside a local PostgreSQL data directory, rendered as
 * pure text, and the reading of postmaster.pid. Settings live in veza.conf
 * (included from postgresql.conf) rather than on the command line, because
 * pg_ctl hands `-o` options to a shell.
 */
export const VEZA_CONF = 'veza.conf';
export const INCLUDE_LINE = `include '${VEZA_CONF}'`;

export interface ServerSettings {
  host: string;
  port: number;
  socketDir: string;
}

function confString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

export function renderVezaConf(s: ServerSettings): string {
  return [
    '# Managed by veza (infra-data:provision rewrites it): where this environment\'s server listens.',
    `listen_addresses = ${confString(s.host)}`,
    `port = ${s.port}`,
    `unix_socket_directories = ${confString(s.socketDir)}`,
    '',
  ].join('\n');
}

/**
 * The socket is trusted because its directory is 0700: only the server's OS
 * user (and root) can reach it. TCP always needs the role's password; the
 * source address of a loopback connection is 127.0.0.1 whatever address it
 * dialled, hence the whole 127/8.
 */
export function renderHba(): string {
  return [
    '# Managed by veza (infra-data:provision rewrites it).',
    '# TYPE  DATABASE  USER  ADDRESS       METHOD',
    'local   all       all                 trust',
    'host    all       all   127.0.0.0/8   scram-sha-256',
    '',
  ].join('\n');
}

export interface Postmaster extends ServerSettings {
  pid: number;
}

/** postmaster.pid lines: pid, data dir, start time, port, socket dir, listen address, shmem key, status. */
export function parsePostmasterPid(text: string): Postmaster | undefined {
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port)) return undefined;
  return { pid, port, socketDir: lines[4] ?? '', host: (lines[5] ?? '').trim() };
}

export function sameSettings(a: ServerSettings, b: ServerSettings): boolean {
  return a.host === b.host && a.port === b.port && a.socketDir === b.socketDir;
}
