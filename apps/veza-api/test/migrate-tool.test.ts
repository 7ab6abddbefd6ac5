import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, after, test } from 'node:test';
import { Client } from 'pg';
import { runEntry, WORKSPACE_ROOT } from '../../../test/support/entry-process';
import { startTestPostgres, type TestPostgres } from '../../../test/support/postgres';
import { listen } from '@veza/component-runtime/runtime';
import { createApiServer } from '../src/server';

const TOOL = 'apps/veza-api/src/migrate-tool.ts';
const MIGRATIONS = join(WORKSPACE_ROOT, 'apps/veza-api/migrations');
const EXPECTED = ['0001_init.sql', '0002_playlists.sql'];

let pg: TestPostgres;
let dbCount = 0;
before(async () => {
  pg = await startTestPostgres();
});
after(() => pg?.stop());

const freshDb = () => pg.createDatabase(`m${++dbCount}`);
const migrate = (args: string[], env: NodeJS.ProcessEnv) => runEntry(TOOL, args, env);

async function query<T extends object>(url: string, sql: string): Promise<T[]> {
  const c = new Client(url);
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

async function copyMigrations(t: { after(fn: () => unknown): void }): Promise<string> {
  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-migrations-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.cp(MIGRATIONS, dir, { recursive: true });
  return dir;
}

test('the migrations folder holds the files the tests expect', async () => {
  assert.deepEqual((await fs.readdir(MIGRATIONS)).sort(), EXPECTED);
});

test('--up applies every migration in order, records checksums, then reports "no changes"', async () => {
  const url = await freshDb();
  const first = await migrate(['--up'], { DATABASE_URL: url });
  assert.equal(first.stderr, '');
  assert.equal(first.code, 0);
  assert.equal(first.stdout, EXPECTED.map((f) => `applied ${f}\n`).join(''));

  const rows = await query<{ version: string; checksum: string }>(url, 'SELECT version, checksum FROM schema_migrations ORDER BY version');
  const expected = await Promise.all(
    EXPECTED.map(async (f) => ({ version: f.replace(/\.sql$/, ''), checksum: createHash('sha256').update(await fs.readFile(join(MIGRATIONS, f))).digest('hex') })),
  );
  assert.deepEqual(rows, expected);
  const tables = await query<{ t: string }>(url, "SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
  assert.deepEqual(tables.map((r) => r.t), ['playlist_tracks', 'playlists', 'schema_migrations', 'tracks', 'users']);

  const second = await migrate(['--up'], { DATABASE_URL: url });
  assert.equal(second.code, 0);
  assert.equal(second.stdout, 'no changes\n');
});

test('--status lists every migration as pending, then as applied with its time', async () => {
  const url = await freshDb();
  const before = await migrate(['--status'], { DATABASE_URL: url });
  assert.equal(before.code, 0);
  assert.equal(before.stdout, EXPECTED.map((f) => `pending  ${f}\n`).join(''));
  // --status only reads: it must not have created the bookkeeping table.
  assert.deepEqual(await query(url, "SELECT 1 FROM pg_tables WHERE tablename = 'schema_migrations'"), []);

  assert.equal((await migrate(['--up'], { DATABASE_URL: url })).code, 0);
  const afterUp = await migrate(['--status'], { DATABASE_URL: url });
  assert.equal(afterUp.code, 0);
  const lines = afterUp.stdout.trimEnd().split('\n');
  assert.equal(lines.length, EXPECTED.length);
  lines.forEach((line, i) => assert.match(line, new RegExp(`^applied  ${EXPECTED[i]}  \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z$`)));
});

test('an applied migration whose file changed is refused with exit 1, naming the file', async (t) => {
  const url = await freshDb();
  const dir = await copyMigrations(t);
  assert.equal((await migrate(['--up'], { DATABASE_URL: url, MIGRATIONS_DIR: dir })).code, 0);
  await fs.appendFile(join(dir, '0001_init.sql'), '\nCREATE TABLE sneaky (id int);\n');
  for (const mode of ['--up', '--status']) {
    const r = await migrate([mode], { DATABASE_URL: url, MIGRATIONS_DIR: dir });
    assert.equal(r.code, 1, mode);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^migrate_tool: 0001_init\.sql changed after it was applied .* — restore the file and put the change in a new migration\n$/);
  }
  assert.deepEqual(await query(url, "SELECT 1 FROM pg_tables WHERE tablename = 'sneaky'"), []);
});

test('a failing migration is rolled back whole and not recorded; the ones before it stay', async (t) => {
  const url = await freshDb();
  const dir = await copyMigrations(t);
  await fs.writeFile(join(dir, '0003_broken.sql'), 'CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;\n');
  const r = await migrate(['--up'], { DATABASE_URL: url, MIGRATIONS_DIR: dir });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^migrate_tool: 0003_broken\.sql failed and was rolled back: relation "no_such_table" does not exist — /);
  assert.equal(r.stdout, '', 'nothing is reported as applied when the run fails');
  assert.deepEqual(await query(url, "SELECT 1 FROM pg_tables WHERE tablename = 'half_done'"), []);
  const versions = await query<{ version: string }>(url, 'SELECT version FROM schema_migrations ORDER BY 1');
  assert.deepEqual(versions.map((v) => v.version), ['0001_init', '0002_playlists']);
});

test('two --up runs started together both succeed and apply each migration once', async () => {
  const url = await freshDb();
  const runs = await Promise.all([migrate(['--up'], { DATABASE_URL: url }), migrate(['--up'], { DATABASE_URL: url })]);
  for (const r of runs) assert.equal(r.code, 0, r.stderr);
  // The lock serialises whole runs: one applies everything, the other finds nothing left.
  assert.deepEqual(runs.map((r) => r.stdout).sort(), [EXPECTED.map((f) => `applied ${f}\n`).join(''), 'no changes\n']);
  const count = await query<{ n: string }>(url, 'SELECT count(*) AS n FROM schema_migrations');
  assert.equal(count[0].n, String(EXPECTED.length));
});

test('bad usage and missing configuration exit 2 with one line, before touching any database', async () => {
  const noUrl = await migrate(['--up'], {});
  assert.equal(noUrl.code, 2);
  assert.match(noUrl.stderr, /^migrate_tool: DATABASE_URL is not set — [^\n]+\n$/);

  for (const args of [[], ['--down'], ['--up', '--status'], ['--database-url=postgres://x']]) {
    const r = await migrate(args, { DATABASE_URL: pg.url });
    assert.equal(r.code, 2, JSON.stringify(args));
    assert.match(r.stderr, /^migrate_tool: expected exactly one of --up or --status, got [^\n]* — usage: [^\n]+\n$/);
    assert.equal(r.stdout, '');
  }
  const badUrl = await migrate(['--up'], { DATABASE_URL: 'not a url' });
  assert.equal(badUrl.code, 2);
  assert.match(badUrl.stderr, /^migrate_tool: DATABASE_URL is not a valid URL — [^\n]+\n$/);
});

test('a database it cannot log in to fails with exit 1, naming host and db but never the password', async () => {
  const wrong = pg.url.replace(/:\/\/veza:[^@]+@/, '://veza:Wrong-Pa55word@');
  const r = await migrate(['--up'], { DATABASE_URL: wrong });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^migrate_tool: cannot connect to 127\.0\.0\.1:\d+\/veza: password authentication failed for user "veza" — /);
  assert.doesNotMatch(r.stdout + r.stderr, /Wrong-Pa55word/);
});

test('/api/v1/status reports the schema version the database really has', async (t) => {
  const url = await freshDb();
  const api = createApiServer({ release: 'b'.repeat(40), color: 'blue', env: 'local', databaseUrl: url });
  t.after(() => api.close());
  const { port } = await listen(api.server, 0, '127.0.0.1');
  const status = async () => (await fetch(`http://127.0.0.1:${port}/api/v1/status`)).json() as Promise<Record<string, unknown>>;

  assert.deepEqual(await status().then(({ database, schemaVersion }) => ({ database, schemaVersion })), { database: 'ok', schemaVersion: null });
  assert.equal((await migrate(['--up'], { DATABASE_URL: url })).code, 0);
  assert.deepEqual(await status().then(({ database, schemaVersion }) => ({ database, schemaVersion })), { database: 'ok', schemaVersion: '0002_playlists' });
});
