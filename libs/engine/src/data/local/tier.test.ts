import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { environmentSchema, type Environment } from '../../config/environment';
import { VezaError } from '../../log/errors';
import { createMemoryLogger } from '../../log/logger';
import { redact } from '../../log/redact';
import { createProcessRunner, type Command, type ProcessRunner } from '../../ports/process';
import { tempWorkspace } from '../../hosts/local/testing/fixtures';
import { formatPlan } from '../plan';
import type { DataTier } from '../port';
import { createDataTier } from '../tier';
import { findPostgresBinDir, localPgPaths } from './postgres';

const RELEASE = (c: string) => c.repeat(40);

function testEnv(name: string, subnet: number, over: Record<string, unknown> = {}): Environment {
  return environmentSchema.parse({
    name,
    driver: 'local',
    prefix: `veza-${name}-`,
    publicHosts: ['localhost'],
    publicUrl: 'http://localhost:18080',
    edge: 'local-edge',
    registry: { url: 'file:.veza/registry', owner: 'veza' },
    local: { subnet: `127.77.${subnet}` },
    data: { postgres: { port: 15432 } },
    retention: { history: 5, snapshots: 2 },
    ...over,
  });
}

/** The real runner, remembering every command it ran so a test can inspect their argv. */
function watchedRunner(): ProcessRunner & { commands: Command[] } {
  const real = createProcessRunner();
  const commands: Command[] = [];
  return { dryRun: false, commands, run: (cmd, opts) => (commands.push(cmd), real.run(cmd, opts)) };
}

interface Ctx {
  ws: string;
  env: Environment;
  tier: DataTier;
  runner: ReturnType<typeof watchedRunner>;
  log: ReturnType<typeof createMemoryLogger>;
  reopen: (env?: Environment) => DataTier;
}

/** One environment on its own subnet per test; its postgres is stopped afterwards, pass or fail. */
async function setup(t: Parameters<typeof tempWorkspace>[0], env: Environment): Promise<Ctx> {
  const tmp = await tempWorkspace(t, `data-${env.name}`);
  const runner = watchedRunner();
  const log = createMemoryLogger();
  const reopen = (e: Environment = env) => createDataTier(e, { workspaceRoot: tmp.dir, runner, log });
  tmp.defer(() => reopen().stop());
  return { ws: tmp.dir, env, tier: reopen(), runner, log, reopen };
}

async function query<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

test('postgres binaries are found on this machine', () => {
  assert.ok(findPostgresBinDir(), 'install postgresql (tools/scripts/setup.sh)');
});

test('provision creates a real postgres once; the second run is a no-op that says so', async (t) => {
  const c = await setup(t, testEnv('data-prov', 201));
  const dry = await c.tier.provision({ dryRun: true });
  assert.ok(dry.steps.some((s) => s.kind === 'run' && s.command.argv.some((a) => a.endsWith('/initdb'))));
  assert.match(formatPlan(dry).join('\n'), /\$ .*pg_ctl start/);
  await assert.rejects(fs.stat(join(c.ws, '.veza')), /ENOENT/, 'a dry-run touches nothing');

  const first = await c.tier.provision();
  assert.match(first.summary, /ready at 127\.77\.201\.2:15432/);

  const second = await c.reopen().provision();
  assert.deepEqual(second.steps, []);
  assert.match(second.summary, /already provisioned .*nothing to do/);
  assert.match(c.log.lines.at(-1)!, /nothing to do/);

  const url = await c.tier.databaseUrl();
  assert.match(url, /^postgresql:\/\/veza:[^@]+@127\.77\.201\.2:15432\/veza$/);
  const [row] = await query<{ u: string; d: string }>(url, 'SELECT current_user AS u, current_database() AS d');
  assert.deepEqual(row, { u: 'veza', d: 'veza' });

  const paths = localPgPaths(c.ws, 'data-prov');
  assert.equal((await fs.stat(paths.passwordFile)).mode & 0o777, 0o600);
  const password = decodeURIComponent(new URL(url).password);
  for (const cmd of c.runner.commands) assert.ok(!cmd.argv.some((a) => a.includes(password)), `password in argv of ${cmd.argv[0]}`);
  assert.equal(redact(`DATABASE_URL=${url}`), 'DATABASE_URL=postgresql://veza:***@127.77.201.2:15432/veza');
});

test('a password from the environment, with quotes and backslashes, is set and rotated', async (t) => {
  const varName = 'VEZA_TEST_DATA_PW';
  const env = testEnv('data-pw', 202, { data: { postgres: { port: 15432, user: 'app_user', database: 'app_db', passwordEnv: varName } } });
  t.after(() => delete process.env[varName]);
  delete process.env[varName];
  const c = await setup(t, env);
  await assert.rejects(c.tier.provision(), (e: unknown) => e instanceof VezaError && e.code === 'MISSING_SECRET');
  await assert.rejects(fs.stat(join(c.ws, '.veza')), /ENOENT/, 'nothing touched before the error');

  process.env[varName] = `it's a "pass\\word" $HOME %`;
  await c.tier.provision();
  assert.deepEqual(await query(await c.tier.databaseUrl(), 'SELECT current_user AS u'), [{ u: 'app_user' }]);

  process.env[varName] = 'rotated-password-2';
  const rotated = await c.tier.provision();
  assert.deepEqual(rotated.steps.map((s) => s.title), ['ensure role app_user and database app_db']);
  assert.deepEqual(await query(await c.tier.databaseUrl(), 'SELECT current_user AS u'), [{ u: 'app_user' }]);
});

test('pre-deploy snapshots: taken once per release, kept when they exist, pruned oldest first', async (t) => {
  const c = await setup(t, testEnv('data-snap', 203));
  const first = await c.tier.provision({ release: RELEASE('a') });
  assert.match(first.notes.join(), /first provision of data-snap: no data to snapshot/);
  const url = await c.tier.databaseUrl();
  await query(url, 'CREATE TABLE items (id int PRIMARY KEY, label text)');
  await query(url, "INSERT INTO items VALUES (1, 'before a')");

  const a = await c.tier.provision({ release: RELEASE('a') });
  assert.deepEqual(a.steps.map((s) => s.kind), ['mkdir', 'run', 'rename']);
  const again = await c.tier.snapshot(RELEASE('a'));
  assert.deepEqual(again.steps, []);
  assert.match(again.notes.join(), new RegExp(`snapshot pre-deploy-${RELEASE('a')} exists: kept`));

  const snaps = await c.tier.listSnapshots();
  assert.deepEqual(snaps.map((s) => s.name), [`pre-deploy-${RELEASE('a')}`]);
  assert.equal(snaps[0]!.path, join(c.ws, '.veza/envs/data-snap/snapshots', `pre-deploy-${RELEASE('a')}.dump`));
  const bin = findPostgresBinDir()!;
  assert.match(execFileSync(join(bin, 'pg_restore'), ['--list', snaps[0]!.path], { encoding: 'utf8' }), /TABLE public items/);

  await c.tier.snapshot(RELEASE('b'));
  await c.tier.provision({ release: 'local-0123456789ab' });
  assert.deepEqual((await c.tier.listSnapshots()).map((s) => s.release), [RELEASE('b'), 'local-0123456789ab'], 'retention 2: the oldest (a) went');
  const files = await fs.readdir(join(c.ws, '.veza/envs/data-snap/snapshots'));
  assert.equal(files.length, 2, `no partial files left: ${files.join(', ')}`);

  await assert.rejects(c.tier.snapshot('not-a-sha'), (e: unknown) => e instanceof VezaError && e.code === 'INVALID_INPUT');
});

test('stop keeps the data; provision starts the same cluster again, and moves it when the port changes', async (t) => {
  const before = testEnv('data-stop', 204);
  const c = await setup(t, before);
  await c.tier.provision();
  const url = await c.tier.databaseUrl();
  await query(url, 'CREATE TABLE kept (v text)');
  await query(url, "INSERT INTO kept VALUES ('survives')");

  assert.equal(await c.tier.stop(), true);
  assert.equal(await c.tier.stop(), false, 'already stopped');
  await assert.rejects(query(url, 'SELECT 1'));
  await assert.rejects(c.tier.snapshot(RELEASE('c')), (e: unknown) => e instanceof VezaError && e.code === 'DATA_NOT_RUNNING');

  const restart = await c.reopen().provision();
  // The role cannot be checked while the server is down, so the idempotent ensure runs after the start.
  assert.deepEqual(restart.steps.map((s) => s.title), ['start postgres of data-stop on 127.77.204.2:15432', 'ensure role veza and database veza']);
  assert.deepEqual(await query(url, 'SELECT v FROM kept'), [{ v: 'survives' }]);

  const after = testEnv('data-stop', 204, { data: { postgres: { port: 15433 } } });
  const moved = await c.reopen(after).provision();
  assert.deepEqual(moved.steps.map((s) => s.title), [
    'write veza.conf (listen address, port, socket)',
    'stop postgres of data-stop',
    'start postgres of data-stop on 127.77.204.2:15433',
    'ensure role veza and database veza',
  ]);
  const movedUrl = await c.reopen(after).databaseUrl();
  assert.match(movedUrl, /:15433\//);
  assert.deepEqual(await query(movedUrl, 'SELECT v FROM kept'), [{ v: 'survives' }]);
});
