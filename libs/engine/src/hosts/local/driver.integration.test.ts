import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SlotSpec } from '../port';
import { createLocalDriver, type LocalDriver } from './driver';
import { identify, isAlive, readBootId } from '../../util/proc';
import { buildServerArtifact, eventually, httpGet, tempWorkspace } from './testing/fixtures';
import { VezaError } from '../../log/errors';
import { validate } from '../../config/names';

const RELEASE_A = 'a'.repeat(40);
const RELEASE_B = 'b'.repeat(40);
const SECRET = 'sekret-token-5f1e2d3c';
const PORT = 18101;

interface Ctx {
  ws: string;
  defer: (fn: () => unknown) => void;
  driver: LocalDriver;
  artifact: { path: string; sha256: string };
  spec: (over?: Partial<SlotSpec>) => SlotSpec;
  url: (path?: string) => string;
}

/** One environment, one loopback address per test; every slot of it is stopped after the test, pass or fail. */
async function setup(t: Parameters<typeof tempWorkspace>[0], env: string, octet: number, opts: { stopTimeoutMs?: number } = {}): Promise<Ctx> {
  const tmp = await tempWorkspace(t, `driver-${env}`);
  const ws = tmp.dir;
  const driver = createLocalDriver({ workspaceRoot: ws, env: validate.env(env), ...opts });
  tmp.defer(() => driver.stopAll());
  const artifact = buildServerArtifact(ws);
  const host = `127.77.200.${octet}`;
  const spec = (over: Partial<SlotSpec> = {}): SlotSpec => ({
    name: `veza-${env}-api-blue`,
    env,
    component: 'veza-api',
    role: 'blue',
    release: RELEASE_A,
    artifactPath: artifact.path,
    artifactSha256: artifact.sha256,
    command: ['node', 'server.js'],
    needs: [],
    bind: { host, port: PORT },
    vars: { SECRET_TOKEN: SECRET, VEZA_RELEASE_SHA: RELEASE_A, QUOTED: `it's "x"\n$HOME` },
    ...over,
  });
  return { ws, defer: tmp.defer, driver, artifact, spec, url: (path = '/') => `http://${host}:${PORT}${path}` };
}

async function appEnv(c: Ctx): Promise<{ pid: number; cwd: string; secret: string; release: string; quoted: string; inherited: string | null }> {
  return JSON.parse((await eventually(() => httpGet(c.url('/env')))).body);
}

function cmdline(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
}

test('a slot is created, started, listed, served, exec-ed into, stopped and deleted', async (t) => {
  const c = await setup(t, 'drv-life', 10);
  const name = c.spec().name;
  await c.driver.create(c.spec());
  assert.deepEqual((await c.driver.list('drv-life')).map((s) => [s.name, s.state, s.release]), [[name, 'stopped', RELEASE_A]]);

  await c.driver.start(name);
  const env = await appEnv(c);
  const [info] = await c.driver.list('drv-life');
  assert.equal(info!.state, 'running');
  assert.equal(info!.host, '127.77.200.10');
  assert.equal(info!.port, PORT);
  assert.equal(env.secret, SECRET);
  assert.equal(env.quoted, `it's "x"\n$HOME`);
  assert.equal(env.cwd, join(c.ws, '.veza/envs/drv-life/slots', name, 'app'));

  // Starting a running slot changes nothing.
  await c.driver.start(name);
  assert.equal((await c.driver.list('drv-life'))[0]!.pid, info!.pid);

  const res = await c.driver.exec(name, { argv: ['node', '-e', 'process.stdout.write(`${process.env.SECRET_TOKEN} ${process.env.PORT} ${process.cwd()}`)'] });
  assert.equal(res.stdout, `${SECRET} ${PORT} ${env.cwd}`);
  await assert.rejects(c.driver.exec(name, { argv: ['true'], cwd: '../..' }), /leaves the slot/);

  const log = join(c.ws, '.veza/envs/drv-life/slots', name, 'log');
  assert.deepEqual(c.driver.logsCommand(name), ['tail', '-n', '200', '-f', log]);

  // The probe is a GET to the slot's own loopback address.
  assert.deepEqual(await c.driver.probe(name, PORT, '/', 2_000), { target: `http://127.77.200.10:${PORT}/`, status: 200 });

  await c.driver.stop(name);
  assert.equal((await c.driver.list('drv-life'))[0]!.state, 'stopped');
  const down = await c.driver.probe(name, PORT, '/', 2_000);
  assert.equal(down.status, undefined);
  assert.match(down.error ?? '', /ECONNREFUSED/, 'a stopped slot is a reason, not a throw');
  assert.equal(identify(env.pid), undefined, 'the command stopped with its supervisor');
  await assert.rejects(httpGet(c.url()));
  assert.match(await fs.readFile(log, 'utf8'), /\[veza-supervisor .*\] stopped/);

  await c.driver.delete(name);
  assert.deepEqual(await c.driver.list('drv-life'), []);
  await c.driver.delete(name); // absent: nothing to do
  assert.deepEqual(await c.driver.probe(name, PORT, '/', 2_000), { target: `slot ${name}`, error: 'the slot does not exist' });
  await assert.rejects(c.driver.start(name), (e: unknown) => e instanceof VezaError && e.code === 'NO_SLOT');
});

test('the env file is 0600 and secrets never reach any process argv', async (t) => {
  const c = await setup(t, 'drv-secret', 11);
  const name = c.spec().name;
  await c.driver.create(c.spec());
  const envFile = join(c.ws, '.veza/envs/drv-secret/slots', name, 'env');
  assert.equal((await fs.stat(envFile)).mode & 0o777, 0o600);
  assert.match(await fs.readFile(envFile, 'utf8'), new RegExp(SECRET));

  await c.driver.start(name);
  const env = await appEnv(c);
  const supervisor = (await c.driver.list('drv-secret'))[0]!.pid!;
  for (const pid of [supervisor, env.pid]) assert.doesNotMatch(cmdline(pid), new RegExp(SECRET), `argv of ${pid}`);
  assert.match(cmdline(supervisor), /supervisor\.js/);
});

test('slots run detached: started by a process that exits, found again by a fresh driver', async (t) => {
  const c = await setup(t, 'drv-detach', 12);
  const name = c.spec().name;
  await c.driver.create(c.spec());
  const script = `require(${JSON.stringify(require.resolve('./driver'))}).createLocalDriver({ workspaceRoot: ${JSON.stringify(c.ws)}, env: 'drv-detach' })` +
    `.start(${JSON.stringify(name)}).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); })`;
  const starter = spawn(process.execPath, ['--require', '@swc-node/register', '-e', script], { stdio: 'inherit' });
  const code = await new Promise((r) => starter.on('exit', r));
  assert.equal(code, 0);

  const fresh = createLocalDriver({ workspaceRoot: c.ws, env: validate.env('drv-detach') });
  const [info] = await fresh.list('drv-detach');
  assert.equal(info!.state, 'running');
  assert.equal((await eventually(() => httpGet(c.url()))).body, 'ok');
  const ppid = Number(readFileSync(`/proc/${info!.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
  assert.notEqual(ppid, process.pid);
  assert.notEqual(ppid, starter.pid, 'the starter is gone; the supervisor was re-parented');
  await fresh.stop(name);
  assert.equal((await fresh.list('drv-detach'))[0]!.state, 'stopped');
});

test('a crashed command is restarted by its supervisor', async (t) => {
  const c = await setup(t, 'drv-crash', 13);
  const name = c.spec().name;
  await c.driver.create(c.spec());
  await c.driver.start(name);
  const before = await appEnv(c);
  await httpGet(c.url('/crash'));
  const after = await eventually(async () => {
    const e = await appEnv(c);
    return e.pid !== before.pid ? e : undefined;
  });
  assert.notEqual(after.pid, before.pid);
  const log = await fs.readFile(c.driver.logsCommand(name).at(-1)!, 'utf8');
  assert.match(log, /exited with code 3; restarting in \d+ ms/);
});

test('a stale pid file (dead or reused pid) reads as stopped and stop() leaves that pid alone', async (t) => {
  const c = await setup(t, 'drv-stale', 14);
  const name = c.spec().name;
  await c.driver.create(c.spec());
  const pidFile = join(c.ws, '.veza/envs/drv-stale/slots', name, 'pid');

  const gone = spawn('true');
  await new Promise((r) => gone.on('exit', r));
  writeFileSync(pidFile, JSON.stringify({ pid: gone.pid, startTime: '1', bootId: readBootId() }));
  assert.equal((await c.driver.list('drv-stale'))[0]!.state, 'stopped');

  // A live stranger holding the recorded pid number: same pid, other start time.
  const stranger = spawn('sleep', ['300'], { stdio: 'ignore' });
  t.after(() => stranger.kill('SIGKILL'));
  const real = identify(stranger.pid!)!;
  writeFileSync(pidFile, JSON.stringify({ ...real, startTime: String(Number(real.startTime) - 1) }));
  assert.equal((await c.driver.list('drv-stale'))[0]!.state, 'stopped');
  await c.driver.stop(name);
  await c.driver.delete(name);
  assert.ok(isAlive(real), 'the stranger survived stop() and delete()');
});

test('a command orphaned by a killed supervisor is reaped on the next start', async (t) => {
  const c = await setup(t, 'drv-orphan', 15);
  const name = c.spec().name;
  await c.driver.create(c.spec());
  await c.driver.start(name);
  const orphan = await appEnv(c);
  const supervisor = (await c.driver.list('drv-orphan'))[0]!.pid!;
  process.kill(supervisor, 'SIGKILL');
  await eventually(() => (identify(supervisor) ? undefined : true));
  assert.equal((await c.driver.list('drv-orphan'))[0]!.state, 'stopped');
  assert.ok(identify(orphan.pid), 'the command outlived its supervisor and still holds the port');

  await c.driver.start(name);
  const fresh = await eventually(async () => {
    const e = await appEnv(c);
    return e.pid !== orphan.pid ? e : undefined;
  });
  assert.notEqual(fresh.pid, orphan.pid);
  assert.equal(identify(orphan.pid), undefined);
});

test('stop() escalates to SIGKILL when the command ignores SIGTERM', async (t) => {
  const c = await setup(t, 'drv-kill', 16, { stopTimeoutMs: 300 });
  const name = c.spec().name;
  await c.driver.create(c.spec({ vars: { IGNORE_TERM: '1' } }));
  await c.driver.start(name);
  const env = await appEnv(c);
  const supervisor = (await c.driver.list('drv-kill'))[0]!.pid!;
  await c.driver.stop(name);
  assert.equal(identify(env.pid), undefined);
  assert.equal(identify(supervisor), undefined);
});

test('re-creating a slot: a tampered artifact leaves the old slot serving; a good one replaces it', async (t) => {
  const c = await setup(t, 'drv-recreate', 17);
  const name = c.spec().name;
  await c.driver.create(c.spec());
  await c.driver.start(name);
  const before = await appEnv(c);

  const tampered = join(c.ws, 'tampered.tar.zst');
  await fs.writeFile(tampered, Buffer.concat([await fs.readFile(c.artifact.path), Buffer.from('x')]));
  await assert.rejects(c.driver.create(c.spec({ artifactPath: tampered, release: RELEASE_B })), (e: unknown) => e instanceof VezaError && e.code === 'ARTIFACT_SHA_MISMATCH');
  assert.equal((await appEnv(c)).pid, before.pid, 'the old slot kept serving');
  assert.deepEqual(await fs.readdir(join(c.ws, '.veza/envs/drv-recreate/slots')), [name], 'no staging leftovers');

  await c.driver.create(c.spec({ release: RELEASE_B }));
  assert.equal(identify(before.pid), undefined, 'the old process was stopped');
  const [info] = await c.driver.list('drv-recreate');
  assert.equal(info!.state, 'stopped');
  assert.equal(info!.release, RELEASE_B);
});

test('bad specs are refused before anything is written', async (t) => {
  const c = await setup(t, 'drv-bad', 18);
  const cases: Partial<SlotSpec>[] = [
    { bind: { host: '0.0.0.0', port: PORT } },
    { bind: { host: '127.77.200.18', port: 70000 } },
    { name: '../escape' },
    { release: 'HEAD' },
    { command: [] },
    { vars: { PORT: '1' } },
    { vars: { 'NOT A NAME': 'x' } },
  ];
  for (const over of cases) {
    await assert.rejects(c.driver.create(c.spec(over)), (e: unknown) => e instanceof VezaError && e.code === 'INVALID_INPUT', JSON.stringify(over));
  }
  await assert.rejects(fs.stat(join(c.ws, '.veza')), /ENOENT/);
});

test('a driver serves one environment: it stops all of its slots, and creates and finds no other environment\'s', async (t) => {
  const c = await setup(t, 'drv-all', 19);
  const otherDriver = createLocalDriver({ workspaceRoot: c.ws, env: validate.env('drv-other') });
  c.defer(() => otherDriver.stopAll());
  const blue = c.spec();
  const green = c.spec({ name: 'veza-drv-all-api-green', role: 'green', bind: { host: '127.77.200.21', port: PORT } });
  const other = c.spec({ name: 'veza-drv-other-api-blue', env: 'drv-other', bind: { host: '127.77.200.20', port: PORT } });
  await assert.rejects(c.driver.create(other), (e: unknown) => e instanceof VezaError && e.code === 'INVALID_INPUT' && /belongs to environment drv-other, and this driver serves drv-all/.test(e.message));
  for (const [driver, s] of [[c.driver, blue], [c.driver, green], [otherDriver, other]] as const) {
    await driver.create(s);
    await driver.start(s.name);
  }
  await assert.rejects(c.driver.exec(other.name, { argv: ['true'] }), (e: unknown) => e instanceof VezaError && e.code === 'NO_SLOT', 'a slot of another environment is not found by name');
  assert.deepEqual(await c.driver.stopAll(), [blue.name, green.name].sort());
  assert.deepEqual((await c.driver.list('drv-all')).map((s) => s.state), ['stopped', 'stopped']);
  assert.equal((await c.driver.list('drv-other'))[0]!.state, 'running');
});
