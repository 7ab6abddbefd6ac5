import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Client } from 'pg';
import type { Environment } from '../../config/environment';
import { VezaError } from '../../log/errors';
import { createMemoryLogger } from '../../log/logger';
import { redact } from '../../log/redact';
import { createProcessRunner, type Command, type ProcessRunner } from '../../ports/process';
import { tempWorkspace } from '../../hosts/local/testing/fixtures';
import { formatPlan } from '../plan';
import type { DataTier } from '../port';
import { createDataTier } from '../tier';
import { findPostgresBinDir, localPgPaths } from './postgres';
import { localDataEnv } from './testing/tier';

const RELEASE = (c: string) => c.repeat(40);

function testEnv(name: string, subnet: number, over: Record<string, unknown> = {}): Environment {
  return localDataEnv(name, `127.77.${subnet}`, { postgres: { port: 15432 } }, { retention: { history: 5, snapshots: 2 }, ...over });
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

test('pre-deploy snapshots: taken once per release, kept when they exist, pruned only when asked and never the live or previous release', async (t) => {
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
  assert.deepEqual((await c.tier.listSnapshots()).map((s) => s.release), [RELEASE('a'), RELEASE('b'), 'local-0123456789ab'], 'taking snapshots never prunes one');
  // After a deploy succeeded: retention 2, but the live (b) and previous (a) releases stay whatever their age.
  const pruned = await c.tier.pruneSnapshots([RELEASE('b'), RELEASE('a')]);
  assert.equal(pruned.steps.length, 1);
  assert.deepEqual((await c.tier.listSnapshots()).map((s) => s.release), [RELEASE('a'), RELEASE('b')], 'the one neither live nor previous went');
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
    'check that 127.77.204.2:15433 is free to listen on',
    'write veza.conf (listen address, port, socket)',
    'check that postgres accepts the new settings of data-stop',
    'stop postgres of data-stop',
    'start postgres of data-stop on 127.77.204.2:15433',
    'ensure role veza and database veza',
  ]);
  const movedUrl = await c.reopen(after).databaseUrl();
  assert.match(movedUrl, /:15433\//);
  assert.deepEqual(await query(movedUrl, 'SELECT v FROM kept'), [{ v: 'survives' }]);
});

/** What a refused or rolled-back move must leave as it was. */
async function serverNow(c: Ctx) {
  const paths = localPgPaths(c.ws, c.env.name);
  return { pid: (await fs.readFile(join(paths.pgdata, 'postmaster.pid'), 'utf8')).split('\n')[0], conf: await fs.readFile(join(paths.pgdata, 'veza.conf'), 'utf8') };
}

test('a move to a port another process holds is refused before anything changes: same server, same files', async (t) => {
  const c = await setup(t, testEnv('data-busy', 205));
  await c.tier.provision();
  const url = await c.tier.databaseUrl();
  const before = await serverNow(c);
  // Another program on the port the environment now names; it hangs up on whoever connects.
  const squatter = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => squatter.listen(15439, '127.77.205.2', resolve));
  t.after(() => new Promise<void>((resolve) => squatter.close(() => resolve())));

  const moved = c.reopen(testEnv('data-busy', 205, { data: { postgres: { port: 15439 } } }));
  await assert.rejects(moved.provision(), (e: unknown) => e instanceof VezaError && e.code === 'DATA_UNBINDABLE' && /127\.77\.205\.2:15439/.test(e.message));
  assert.deepEqual(await serverNow(c), before, 'the same postmaster runs on the same veza.conf');
  assert.deepEqual(await query(url, 'SELECT 1 AS one'), [{ one: 1 }], 'and still serves on its old port');
});

test('a move whose restart fails puts the previous settings back and the server serves again', async (t) => {
  const c = await setup(t, testEnv('data-back', 206));
  await c.tier.provision();
  const url = await c.tier.databaseUrl();
  await query(url, 'CREATE TABLE kept (v text)');
  await query(url, "INSERT INTO kept VALUES ('survives')");
  const { conf } = await serverNow(c);

  // The new port is free when checked, but the start on it fails (as when another process takes it in between).
  const real = createProcessRunner();
  const failingStart: ProcessRunner = {
    dryRun: false,
    run: (cmd, opts) => cmd.argv.includes('start') && cmd.argv.some((a) => a.endsWith('pg_ctl'))
      ? Promise.reject(new VezaError('pg_ctl start failed on purpose', 'none', 'COMMAND_FAILED'))
      : real.run(cmd, opts),
  };
  const after = testEnv('data-back', 206, { data: { postgres: { port: 15441 } } });
  const moved = createDataTier(after, { workspaceRoot: c.ws, runner: failingStart, log: createMemoryLogger() });
  await assert.rejects(moved.provision(), (e: unknown) => e instanceof VezaError && /failed on purpose[^]*the previous settings were put back/.test(e.message));
  assert.equal((await serverNow(c)).conf, conf, 'veza.conf is the previous one');
  assert.deepEqual(await query(url, 'SELECT v FROM kept'), [{ v: 'survives' }], 'the server serves on its previous port again');
});
