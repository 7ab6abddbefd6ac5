import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';

/**
 * A throwaway PostgreSQL cluster from the machine's own binaries: its own temp
 * dir, socket dir and loopback port, a password-protected role, gone after stop().
 * initdb refuses to run as root, so as root every server binary runs as the
 * `postgres` OS user on a dir that user owns.
 */
export interface TestPostgres {
  /** postgres://veza:<password>@127.0.0.1:<port>/veza */
  url: string;
  /** Creates another empty database owned by the same role and returns its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

const run = promisify(execFile);
const ROLE = 'veza';

async function binDir(): Promise<string> {
  const fallback = '/usr/lib/postgresql/15/bin';
  const fromConfig = await run('pg_config', ['--bindir']).then((r) => r.stdout.trim(), () => '');
  const dir = [fromConfig, fallback].find((d) => d && existsSync(join(d, 'initdb')));
  if (!dir) throw new Error(`no initdb in ${fromConfig || '(pg_config missing)'} or ${fallback} — install postgresql-15 (bash tools/scripts/setup.sh)`);
  return dir;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startTestPostgres(t?: { after(fn: () => unknown): void }): Promise<TestPostgres> {
  const bin = await binDir();
  const asRoot = process.getuid?.() === 0;
  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-pg-'));
  const data = join(dir, 'data');
  // Server binaries run with cwd = dir: the postgres user may not be able to enter the caller's cwd.
  const pgRun = (tool: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args], { cwd: dir }) : run(join(bin, tool), args, { cwd: dir });

  let started = false;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      if (started) await pgRun('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  };
  t?.after(stop);

  try {
    if (asRoot) await run('chown', ['postgres:postgres', dir]);
    // Trust only on the private socket (dir is 0700); TCP needs the password.
    await pgRun('initdb', ['-D', data, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-instructions']);
    const port = await freePort();
    await fs.appendFile(
      join(data, 'postgresql.conf'),
      [
        `listen_addresses = '127.0.0.1'`,
        `port = ${port}`,
        `unix_socket_directories = '${dir}'`,
        // Durability buys nothing in a cluster deleted after the test.
        'fsync = off',
        'synchronous_commit = off',
        'full_page_writes = off',
        'max_connections = 40',
        '',
      ].join('\n'),
    );
    await pgRun('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '30', 'start']);
    started = true;

    const password = randomBytes(18).toString('hex');
    const admin = new Client({ host: dir, port, user: 'postgres', database: 'postgres' });
    await admin.connect();
    try {
      // Identifiers and the password are test-generated hex/fixed words, safe to inline; nothing goes through argv.
      await admin.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${password}'`);
      await admin.query(`CREATE DATABASE ${ROLE} OWNER ${ROLE}`);
    } finally {
      await admin.end();
    }
    const urlFor = (db: string) => `postgres://${ROLE}:${password}@127.0.0.1:${port}/${db}`;

    return {
      url: urlFor(ROLE),
      async createDatabase(name) {
        if (!/^[a-z][a-z0-9_]{0,40}$/.test(name)) throw new Error(`bad test database name ${name}`);
        const c = new Client({ host: dir, port, user: 'postgres', database: 'postgres' });
        await c.connect();
        try {
          await c.query(`CREATE DATABASE ${name} OWNER ${ROLE}`);
        } finally {
          await c.end();
        }
        return urlFor(name);
      },
      stop,
    };
  } catch (e) {
    const log = await fs.readFile(join(dir, 'server.log'), 'utf8').catch(() => '');
    await stop().catch(() => undefined);
    throw new Error(`test postgres did not start: ${(e as Error).message}${log ? `\nserver log:\n${log.slice(-2000)}` : ''}`);
  }
}
