import { Client } from 'pg';
import { parseDatabaseUrl } from './database-url';
import { applyPending, findMigrationsDir, loadMigrations, MigrationError, plan, readApplied } from './migrations';

/**
 * `migrate_tool --up | --status`: the deploy's phase A. Exit codes: 0 done,
 * 1 the database or a migration failed, 2 bad usage or configuration.
 * "no changes" on stdout is the contract deploy reads to report nothing changed.
 */
const USAGE = 'usage: migrate_tool --up | --status (DATABASE_URL from the environment, MIGRATIONS_DIR optional)';

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const mode = argv.length === 1 ? argv[0] : undefined;
  if (mode === '--help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (mode !== '--up' && mode !== '--status') {
    process.stderr.write(`migrate_tool: expected exactly one of --up or --status, got ${argv.length ? argv.map((a) => JSON.stringify(a.slice(0, 40))).join(' ') : 'nothing'} — ${USAGE}\n`);
    return 2;
  }
  const target = parseDatabaseUrl(env.DATABASE_URL);
  if ('error' in target) {
    process.stderr.write(`migrate_tool: ${target.error}\n`);
    return 2;
  }

  const client = new Client({ connectionString: target.url, connectionTimeoutMillis: 10_000 });
  // A dropped connection surfaces as a failed query; the emitter must not crash the process first.
  client.on('error', () => undefined);
  try {
    const migrations = await loadMigrations(findMigrationsDir(env, __dirname));
    await client.connect().catch((e: Error) => {
      throw new MigrationError(`cannot connect to ${target.label}: ${e.message} — check DATABASE_URL and that Postgres is running`);
    });
    if (mode === '--status') {
      const { states, unknown } = plan(migrations, await readApplied(client));
      for (const s of states) {
        process.stdout.write(s.applied ? `applied  ${s.migration.file}  ${s.applied.appliedAt.toISOString()}\n` : `pending  ${s.migration.file}\n`);
      }
      for (const u of unknown) process.stdout.write(`applied  ${u.version}.sql  ${u.appliedAt.toISOString()}  (not in this release)\n`);
      return 0;
    }
    const { applied, unknown } = await applyPending(client, migrations);
    for (const u of unknown) process.stderr.write(`migrate_tool: note: ${u.version} is applied but not in this release (an older release running against a newer schema)\n`);
    process.stdout.write(applied.length ? applied.map((m) => `applied ${m.file}\n`).join('') : 'no changes\n');
    return 0;
  } catch (e) {
    process.stderr.write(`migrate_tool: ${target.scrub((e as Error).message)}\n`);
    return 1;
  } finally {
    await client.end().catch(() => undefined);
  }
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (e: Error) => {
    process.stderr.write(`migrate_tool: unexpected failure: ${e.message}\n`);
    process.exitCode = 1;
  },
);
