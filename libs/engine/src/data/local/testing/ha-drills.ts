import { spawn } from 'node:child_process';
import { Client } from 'pg';
import { serverConnections, type PoolRow } from '../../ha/pgbouncer';
import type { BackupInfo } from '../../ha/pgbackrest';
import { querySuper, readFormationState, runningId, type HaLayout } from '../ha';
import type { LocalHaTier } from '../ha-tier';
import { livePostmaster } from '../postgres';

/**
 * What the HA integration test and bench/pg-ha-bench.ts both do to a live
 * local formation: pgbench through PgBouncer while sampling its pools, and
 * a primary killed outright with the time until a write through PgBouncer
 * succeeds again. test/e2e's HA deploy tests use them too.
 */
const PGBENCH = '/usr/lib/postgresql/15/bin/pgbench';

/** Runs pgbench through PgBouncer; the password travels in PGPASSWORD, never argv. */
export function pgbench(url: string, args: string[], onSpawn?: (pid: number) => void): Promise<{ code: number; out: string }> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const child = spawn(PGBENCH, ['-h', u.hostname, '-p', u.port, '-U', u.username, ...args, u.pathname.slice(1)], { env: { ...process.env, PGPASSWORD: decodeURIComponent(u.password) } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    if (child.pid) onSpawn?.(child.pid);
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

export const failedTransactions = (out: string) => Number(/number of failed transactions: (\d+)/.exec(out)?.[1] ?? NaN);
export const processed = (out: string) => Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1] ?? NaN);
export const tps = (out: string) => /tps = ([\d.]+)/.exec(out)?.[1];

export async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3_000, query_timeout: 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** pgbench with `args` while SHOW POOLS is read every half second (from any HA tier): the run, and the most server connections seen. */
export async function pooledRun(tier: { pools(): Promise<PoolRow[]> }, url: string, args: string[]): Promise<{ code: number; out: string; maxServer: number }> {
  let maxServer = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const pools = await tier.pools().catch(() => []);
      maxServer = Math.max(maxServer, ...pools.map(serverConnections));
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  const run = await pgbench(url, args);
  sampling = false;
  await sampler;
  return { ...run, maxServer };
}

export interface FailoverMeasure {
  before: string;
  /** Seconds from the kill to the first write through PgBouncer that succeeded. */
  rtoSeconds: number;
  /** What pgbench (4 writing clients, started before the kill) reported. */
  bench: string;
}

/**
 * As a power cut: the primary's pg_autoctl (its whole process group) and
 * its postgres, by pid, with SIGKILL. Returns the node killed and when.
 */
export async function killPrimary(l: HaLayout): Promise<{ name: string; killedAt: number }> {
  const f = (await readFormationState(l))!.formation;
  const victim = l.nodes.findIndex((n) => n.name === f.primary!.name);
  const keeper = (await runningId(l.pids.nodes[victim]!))!;
  const postmaster = livePostmaster(l.nodes[victim]!.pgdata)!;
  const killedAt = Date.now();
  process.kill(-keeper.pid, 'SIGKILL');
  signal(postmaster.pid, 'SIGKILL');
  return { name: f.primary!.name, killedAt };
}

/** `sql` (a write) through `url` every 250 ms until one succeeds: seconds from `since`, NaN after `maxSeconds`. */
export async function firstWrite(url: string, sql: string, since: number, maxSeconds = 300): Promise<number> {
  for (let i = 0; i < maxSeconds * 4; i++) {
    if (await query(url, sql).then(() => true, () => false)) return (Date.now() - since) / 1000;
    await new Promise((r) => setTimeout(r, 250));
  }
  return NaN;
}

/** killPrimary while pgbench writes through PgBouncer; then one INSERT every 250 ms through PgBouncer until one succeeds. */
export function killPrimaryAndMeasure(l: HaLayout, url: string, table: string, maxSeconds = 300): Promise<FailoverMeasure> {
  return measureFailover(url, table, () => killPrimary(l), maxSeconds);
}

/**
 * `kill` (the primary gone, whatever the driver: processes killed, a container stopped hard) while pgbench
 * writes through PgBouncer; then one INSERT every 250 ms through PgBouncer until one succeeds.
 */
export async function measureFailover(url: string, table: string, kill: () => Promise<{ name: string; killedAt: number }>, maxSeconds = 300): Promise<FailoverMeasure> {
  let benchPid = 0;
  const bench = pgbench(url, ['-c', '4', '-j', '2', '-T', String(maxSeconds), '-n', '-b', 'simple-update'], (pid) => (benchPid = pid));
  await new Promise((r) => setTimeout(r, 3_000));
  const { name, killedAt } = await kill();
  const rtoSeconds = await firstWrite(url, `INSERT INTO ${table} VALUES (DEFAULT)`, killedAt, maxSeconds);
  // pgbench may have ended on its own: its clients abort when their server connection dies.
  signal(benchPid, 'SIGINT');
  const out = (await bench).out;
  return { before: name, rtoSeconds, bench: out.split('\n').filter((x) => /aborted|failed|processed/.test(x)).join(' | ') };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/** Waits until the primary archived the WAL segment it is writing now (pg_switch_wal closes it). */
export async function archiveNow(l: HaLayout): Promise<void> {
  const primary = (await readFormationState(l))!.formation.primary!;
  const [{ wal }] = await querySuper<{ wal: string }>(l.socketDir, primary.port, 'postgres', 'SELECT pg_walfile_name(pg_switch_wal()) AS wal');
  for (let i = 0; ; i++) {
    const [{ last, failed }] = await querySuper<{ last: string | null; failed: string | null }>(l.socketDir, primary.port, 'postgres', 'SELECT last_archived_wal AS last, last_failed_wal AS failed FROM pg_stat_archiver');
    if (last !== null && last >= wal!) return;
    if (i >= 120) throw new Error(`WAL ${wal} was not archived within 60 s (last failed: ${failed})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * The drill's data: table `items` with 100 rows, a full backup, `after` more
 * rows, and the WAL segment holding them archived (archive_timeout would
 * close it within a minute). Returns the full backup.
 */
export async function rowsAroundFullBackup(tier: Pick<LocalHaTier, 'backup'>, l: HaLayout, url: string, after: number): Promise<BackupInfo> {
  await query(url, 'CREATE TABLE items (id int PRIMARY KEY, phase text)');
  await query(url, "INSERT INTO items SELECT g, 'before' FROM generate_series(1, 100) g");
  const full = await tier.backup('full');
  await query(url, `INSERT INTO items SELECT g, 'after' FROM generate_series(101, ${100 + after}) g`);
  await archiveNow(l);
  return full;
}
