import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { packDirectory } from '@veza/engine/artifact/pack';
import { loadComponent, runtimeDeclaration } from '@veza/engine/config/component';
import type { Context } from '@veza/engine/deploy/context';
import { pendingMigrations } from '@veza/engine/deploy/pending-migrations';
import { createProcessRunner } from '@veza/engine/ports/process';
import { startTestPostgres } from '../support/postgres';

/**
 * The deploy diff's pending migrations with veza-api's real migrate_tool
 * and its declared status command, against a real PostgreSQL: a release
 * that adds a migration to what the database holds lists exactly that one.
 */
const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');

test("veza-api's migrate_tool --status, read by the engine: the migration a release adds is pending", async (t) => {
  const pg = await startTestPostgres(t);
  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-pending-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const app = join(dir, 'app');
  await fs.mkdir(join(app, 'migrations'), { recursive: true });
  await run('go', ['build', '-o', join(app, 'migrate_tool'), './cmd/migrate_tool'], { cwd: join(ROOT, 'apps', 'veza-api') });
  await fs.writeFile(join(app, 'migrations', '0001_init.sql'), 'CREATE TABLE tracks (id bigint PRIMARY KEY);\n');
  await run(join(app, 'migrate_tool'), ['--up'], { cwd: app, env: { ...process.env, DATABASE_URL: pg.url } });
  // The next release: the same tool and 0001, plus a migration of its own.
  await fs.writeFile(join(app, 'migrations', '0002_tags.sql'), 'CREATE TABLE tags (id bigint PRIMARY KEY);\n');
  const packed = await packDirectory(app, join(dir, 'veza-api.tar.zst'));

  const api = runtimeDeclaration(await loadComponent(join(ROOT, 'apps', 'veza-api')));
  const ctx = {
    env: { name: 'test' },
    ports: { tier: { databaseUrl: async () => pg.url } },
    runner: createProcessRunner(),
    processEnv: process.env,
  } as unknown as Context;
  const artifact = async () => ({ path: join(dir, 'veza-api.tar.zst'), sha256: packed.sha256 });
  assert.deepEqual(await pendingMigrations(ctx, [api], artifact), [{ component: 'veza-api', pending: ['0002_tags.sql'] }]);

  await run(join(app, 'migrate_tool'), ['--up'], { cwd: app, env: { ...process.env, DATABASE_URL: pg.url } });
  assert.deepEqual(await pendingMigrations(ctx, [api], artifact), [{ component: 'veza-api', pending: [] }]);

  await pg.stop();
  const [down] = await pendingMigrations(ctx, [api], artifact);
  assert.equal(down?.pending, undefined);
  assert.match(down?.unknown ?? '', /^\.\/migrate_tool --status exited 1: migrate_tool: cannot connect to .* — check DATABASE_URL and that Postgres is running$/);
  assert.doesNotMatch(down?.unknown ?? '', new RegExp(new URL(pg.url).password), 'no password in the reason');
});
