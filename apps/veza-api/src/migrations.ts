import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Client, Pool } from 'pg';

/**
 * SQL migrations: `NNNN_name.sql` files applied in filename order, each in its
 * own transaction, recorded with a checksum so an edited file is caught.
 */
const MIGRATIONS_TABLE = 'schema_migrations';
const FILE = /^\d{4}_[a-z0-9_]+\.sql$/;
// Any fixed 64-bit key works; it only has to be the same for every run of this tool.
const LOCK_KEY = '7342016395716021';
const UNDEFINED_TABLE = '42P01';

export interface Migration {
  version: string;
  file: string;
  sql: string;
  checksum: string;
}

export interface AppliedMigration {
  version: string;
  appliedAt: Date;
  checksum: string;
}

export class MigrationError extends Error {}

/**
 * The bundled tool finds `migrations/` beside itself (the artifact root); from
 * source it sits one level up from src/. MIGRATIONS_DIR overrides both.
 */
export function findMigrationsDir(env: NodeJS.ProcessEnv, here: string): string {
  if (env.MIGRATIONS_DIR) return env.MIGRATIONS_DIR;
  const candidates = [join(here, 'migrations'), join(here, '..', 'migrations')];
  const found = candidates.find((d) => existsSync(d));
  if (!found) throw new MigrationError(`no migrations folder at ${candidates.join(' or ')} — set MIGRATIONS_DIR or run from an unpacked veza-api artifact`);
  return found;
}

export async function loadMigrations(dir: string): Promise<Migration[]> {
  const names = (await fs.readdir(dir)).filter((n) => n.endsWith('.sql')).sort();
  const bad = names.filter((n) => !FILE.test(n));
  if (bad.length) throw new MigrationError(`badly named migration ${bad.join(', ')} in ${dir} — name files NNNN_lower_snake.sql`);
  return Promise.all(
    names.map(async (file) => {
      const sql = await fs.readFile(join(dir, file), 'utf8');
      return { version: file.slice(0, -'.sql'.length), file, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

export async function readApplied(client: Client): Promise<AppliedMigration[]> {
  const exists = await client.query<{ t: string | null }>(`SELECT to_regclass('${MIGRATIONS_TABLE}') AS t`);
  if (exists.rows[0].t === null) return [];
  const r = await client.query<{ version: string; applied_at: Date; checksum: string }>(
    `SELECT version, applied_at, checksum FROM ${MIGRATIONS_TABLE} ORDER BY version`,
  );
  return r.rows.map((row) => ({ version: row.version, appliedAt: row.applied_at, checksum: row.checksum }));
}

export interface MigrationState {
  migration: Migration;
  applied: AppliedMigration | null;
}

/** Pairs files with their records; refuses an applied file whose content changed. */
export function plan(migrations: Migration[], applied: AppliedMigration[]): { states: MigrationState[]; unknown: AppliedMigration[] } {
  const byVersion = new Map(applied.map((a) => [a.version, a]));
  const states = migrations.map((m) => {
    const a = byVersion.get(m.version) ?? null;
    if (a && a.checksum !== m.checksum) {
      throw new MigrationError(`${m.file} changed after it was applied (recorded checksum ${a.checksum.slice(0, 12)}, file ${m.checksum.slice(0, 12)}) — restore the file and put the change in a new migration`);
    }
    return { migration: m, applied: a };
  });
  // Applied but absent here: this tool is older than the database, as during a rollback; not an error.
  const known = new Set(migrations.map((m) => m.version));
  return { states, unknown: applied.filter((a) => !known.has(a.version)) };
}

/**
 * Applies every pending migration under a session advisory lock, so two runs
 * started at once serialise and the second finds nothing left to do.
 * Returns the migrations it applied, in order.
 */
export async function applyPending(client: Client, migrations: Migration[], lockTimeout = '60s'): Promise<{ applied: Migration[]; unknown: AppliedMigration[] }> {
  await client.query(`SELECT set_config('lock_timeout', $1, false)`, [lockTimeout]);
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
  } catch (e) {
    throw new MigrationError(`could not take the migration lock within ${lockTimeout}: ${(e as Error).message} — another migrate_tool run is still going; wait for it and retry`);
  }
  try {
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), checksum text NOT NULL)`,
    );
    const { states, unknown } = plan(migrations, await readApplied(client));
    const done: Migration[] = [];
    for (const { migration, applied } of states) {
      if (applied) continue;
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query(`INSERT INTO ${MIGRATIONS_TABLE} (version, checksum) VALUES ($1, $2)`, [migration.version, migration.checksum]);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new MigrationError(`${migration.file} failed and was rolled back: ${(e as Error).message} — fix the SQL and run --up again`);
      }
      done.push(migration);
    }
    return { applied: done, unknown };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
  }
}

/** The latest applied version, or null when nothing (or no table) is there yet. */
export async function latestVersion(pool: Pool): Promise<string | null> {
  try {
    const r = await pool.query<{ v: string | null }>(`SELECT max(version) AS v FROM ${MIGRATIONS_TABLE}`);
    return r.rows[0].v;
  } catch (e) {
    if ((e as { code?: string }).code === UNDEFINED_TABLE) return null;
    throw e;
  }
}
