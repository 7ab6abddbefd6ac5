import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packDirectory } from '../../artifact/pack';
import { environmentSchema } from '../../config/environment';
import { isVezaError } from '../../log/errors';
import type { SlotSpec } from '../port';
import { createIncusDriver } from './driver';
import { instancesJson, scriptedRunner, sub, type Answer } from './testing/scripted-runner';

const ENV = environmentSchema.parse({
  name: 'staging', driver: 'incus', prefix: 'veza-staging-', network: 'net-veza', publicHosts: ['staging.veza.fr'], publicUrl: 'https://staging.veza.fr',
  edge: 'veza-haproxy', registry: { url: 'https://git.example/api/packages', owner: 'talas' }, incus: { image: 'images:debian/13', dnsSuffix: 'lxd', storagePool: 'fast' },
});
const SHA = 'a'.repeat(40);
const SLOT = { 'user.veza.slot': 'veza-staging-api-blue', 'user.veza.env': 'staging', 'user.veza.component': 'veza-api', 'user.veza.role': 'blue', 'user.veza.release': SHA, 'user.veza.port': '8080' };

/** A host that is ready (network, pool, profiles) plus what the test says about instances and execs. */
function host(instances: Parameters<typeof instancesJson>[0], exec: (argv: string[]) => Answer = () => ({})) {
  return scriptedRunner((argv) => {
    const s = sub(argv);
    if (s.startsWith('list')) return { stdout: instancesJson(instances) };
    if (s.startsWith('network list')) return { stdout: JSON.stringify([{ name: 'net-veza' }]) };
    if (s.startsWith('storage list')) return { stdout: JSON.stringify([{ name: 'fast' }]) };
    if (s.startsWith('profile list')) return { stdout: JSON.stringify(['veza-app', 'veza-data'].map((name) => ({ name, devices: { root: { type: 'disk', path: '/', pool: 'fast' } } }))) };
    if (s.startsWith('exec')) return exec(argv);
    return {};
  });
}

async function artifact(t: { after(fn: () => unknown): void }): Promise<{ path: string; sha256: string }> {
  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-incus-driver-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.mkdir(join(dir, 'src'));
  await fs.writeFile(join(dir, 'src', 'server.js'), 'console.log(1)\n');
  const packed = await packDirectory(join(dir, 'src'), join(dir, 'a.tar.zst'));
  return { path: join(dir, 'a.tar.zst'), sha256: packed.sha256 };
}

function spec(a: { path: string; sha256: string }, over: Partial<SlotSpec> = {}): SlotSpec {
  return { name: 'veza-staging-api-blue', env: 'staging', component: 'veza-api', role: 'blue', release: SHA, artifactPath: a.path, artifactSha256: a.sha256, command: ['node', 'server.js'], needs: [], bind: { host: '0.0.0.0', port: 8080 }, vars: { DATABASE_URL: 'postgresql://veza:s3cret-pw@pg/veza' }, ...over };
}

test('bad slot input is refused before any incus command runs', async (t) => {
  const a = await artifact(t);
  for (const [over, why] of [
    [{ name: 'Veza_Bad' }, /invalid Incus slot name/],
    [{ bind: { host: 'localhost', port: 8080 } }, /would bind localhost/],
    [{ command: ['node', 'a\nb'] }, /invalid command/],
    [{ artifactSha256: 'nope' }, /invalid artifact sha256/],
    [{ vars: { PORT: '1' } }, /contradicts its bind address/],
  ] as [Partial<SlotSpec>, RegExp][]) {
    const runner = host([]);
    await assert.rejects(createIncusDriver({ env: ENV, runner }).create(spec(a, over)), (e: unknown) => isVezaError(e) && e.code === 'INVALID_INPUT' && why.test(e.message));
    assert.equal(runner.commands.length, 0, `no command for ${why}`);
  }
  const runner = host([]);
  await assert.rejects(createIncusDriver({ env: ENV, runner }).create(spec(a, { artifactSha256: 'b'.repeat(64) })), /sha256/);
  assert.equal(runner.commands.length, 0, 'a bad artifact fails before the host is touched');
});

test('create launches with the app profile, network, pool and labels, then installs; the env file goes over stdin', async (t) => {
  const a = await artifact(t);
  let launched = false;
  const runner = scriptedRunner((argv) => {
    const s = sub(argv);
    if (s.startsWith('launch')) launched = true;
    if (s.startsWith('list')) return { stdout: instancesJson(launched ? [{ name: 'veza-staging-api-blue', config: SLOT, ipv4: '10.0.20.9' }] : []) };
    if (s.startsWith('network list')) return { stdout: JSON.stringify([{ name: 'net-veza' }]) };
    if (s.startsWith('storage list')) return { stdout: JSON.stringify([{ name: 'fast' }]) };
    if (s.startsWith('profile list')) return { stdout: '[]' };
    if (s.startsWith('exec') && argv.includes('is-system-running')) return { stdout: 'running' };
    return {};
  });
  await createIncusDriver({ env: ENV, runner }).create(spec(a));
  const lines = runner.lines();
  const launch = lines.find((l) => l.startsWith('incus launch'))!;
  assert.match(launch, /^incus launch images:debian\/13 veza-staging-api-blue --quiet --profile veza-app --network net-veza --storage fast /);
  assert.match(launch, /--config user\.veza\.release=a{40} /);
  assert.ok(lines.indexOf(launch) > lines.findIndex((l) => l.startsWith('incus profile device add veza-app root disk path=/ pool=fast')), 'profiles get their root disk first');
  // The slot gets a plain tar of what the runner unpacked: nothing in it needs zstd, and the artifact file never enters it.
  const install = runner.commands.find((c) => c.description === 'install veza-api in veza-staging-api-blue')!;
  assert.deepEqual(install.argv.slice(-3), ['veza', 'veza-api', '/srv/veza/app']);
  const tar = Buffer.from(install.input as Uint8Array);
  assert.equal(tar.subarray(0, 100).toString('latin1').replace(/\0+$/, ''), 'server.js');
  assert.equal(tar.subarray(100, 107).toString('latin1'), '0000644', 'modes as packed');
  assert.ok(tar.includes('console.log(1)'));
  assert.ok(!runner.commands.some((c) => c.argv.some((x) => /zstd|\.tar\.zst|file push/.test(x))), 'no zstd, no artifact file in the slot');
  const envWrite = runner.commands.find((c) => c.argv.includes('/etc/veza/slot.env'))!;
  assert.match(String(envWrite.input), /DATABASE_URL="postgresql:\/\/veza:s3cret-pw@pg\/veza"/);
  assert.ok(!runner.commands.some((c) => c.argv.some((x) => x.includes('s3cret-pw'))), 'the secret is never in argv');
  assert.ok(!lines.some((l) => l.startsWith('incus delete')), 'nothing existed, nothing is deleted');
});

test('a container of the slot name that is not a Veza slot is never deleted, re-created or stopped', async (t) => {
  const a = await artifact(t);
  const foreign = [{ name: 'veza-staging-api-blue', config: {}, ipv4: '10.0.20.3' }];
  for (const act of [(d: ReturnType<typeof createIncusDriver>) => d.create(spec(a)), (d: ReturnType<typeof createIncusDriver>) => d.delete('veza-staging-api-blue'), (d: ReturnType<typeof createIncusDriver>) => d.stop('veza-staging-api-blue')]) {
    const runner = host(foreign);
    await assert.rejects(act(createIncusDriver({ env: ENV, runner })), (e: unknown) => isVezaError(e) && e.code === 'NOT_A_SLOT' && /not a Veza slot/.test(e.message));
    assert.ok(!runner.lines().some((l) => /^incus (delete|launch|stop)|systemctl/.test(l)), runner.lines().join('\n'));
  }
  const absent = host([]);
  await createIncusDriver({ env: ENV, runner: absent }).delete('veza-staging-api-blue');
  assert.deepEqual(absent.lines().map((l) => l.split(' ').slice(0, 2).join(' ')), ['incus list'], 'deleting an absent slot is a no-op');
});

test('list reads labels from one incus list and the unit state from each running slot', async () => {
  const runner = host([
    { name: 'veza-staging-api-blue', config: SLOT, ipv4: '10.0.20.4' },
    { name: 'veza-staging-web-green', status: 'Stopped', config: { ...SLOT, 'user.veza.slot': 'veza-staging-web-green', 'user.veza.component': 'veza-web', 'user.veza.role': 'green', 'user.veza.port': '8081' } },
    { name: 'veza-prod-api-blue', config: { ...SLOT, 'user.veza.slot': 'veza-prod-api-blue', 'user.veza.env': 'prod' } },
    { name: 'forgejo', config: {} },
  ], () => ({ stdout: 'ActiveState=active\nMainPID=321\n' }));
  assert.deepEqual(await createIncusDriver({ env: ENV, runner }).list('staging'), [
    { name: 'veza-staging-api-blue', component: 'veza-api', role: 'blue', state: 'running', release: SHA, pid: 321, host: 'veza-staging-api-blue.lxd', port: 8080 },
    { name: 'veza-staging-web-green', component: 'veza-web', role: 'green', state: 'stopped', release: SHA, host: 'veza-staging-web-green.lxd', port: 8081 },
  ]);
});

test('a unit state that cannot be read is retried, then reported unknown — never stopped', async () => {
  const slots = [{ name: 'veza-staging-api-blue', config: SLOT, ipv4: '10.0.20.4' }];
  // Under load `incus exec` can fail outright: the first two reads get nothing, the third gets the state.
  let reads = 0;
  const flaky = host(slots, () => (++reads <= 2 ? { exitCode: 255, stdout: '' } : { stdout: 'ActiveState=active\nMainPID=321\n' }));
  assert.deepEqual((await createIncusDriver({ env: ENV, runner: flaky }).list('staging')).map((s) => [s.state, s.pid]), [['running', 321]]);
  assert.equal(reads, 3);

  let tries = 0;
  const dead = host(slots, () => (tries++, { exitCode: 255, stdout: '' }));
  assert.deepEqual((await createIncusDriver({ env: ENV, runner: dead }).list('staging')).map((s) => s.state), ['unknown']);
  assert.equal(tries, 4, 'a bounded number of reads');

  const inactive = host(slots, () => ({ stdout: 'ActiveState=inactive\nMainPID=0\n' }));
  assert.deepEqual((await createIncusDriver({ env: ENV, runner: inactive }).list('staging')).map((s) => s.state), ['stopped'], 'a state read as inactive is stopped');
});

test('exec: the command runs as the component user from the artifact root; its variables travel in a one-shot 0600 file', async () => {
  const runner = host([{ name: 'veza-staging-api-blue', config: SLOT, ipv4: '10.0.20.4' }], () => ({ stdout: 'applied 0002' }));
  const res = await createIncusDriver({ env: ENV, runner }).exec('veza-staging-api-blue', { argv: ['node', 'migrate_tool.js', '--up'], env: { EXTRA_TOKEN: 'tok-123456' } });
  assert.equal(res.stdout, 'applied 0002');
  const [push, run] = runner.commands.filter((c) => c.argv[1] === 'exec');
  assert.match(String(push!.input), /EXTRA_TOKEN="tok-123456"/);
  const extra = push!.argv[push!.argv.length - 3]!;
  assert.match(extra, /^\/run\/veza-exec-[0-9a-f]{12}\.env$/);
  assert.deepEqual(run!.argv.slice(run!.argv.indexOf('--cwd'), run!.argv.indexOf('--cwd') + 2), ['--cwd', '/srv/veza/app']);
  assert.deepEqual(run!.argv.slice(-7), ['veza-exec', '/etc/veza/slot.env', extra, 'veza-api', 'node', 'migrate_tool.js', '--up']);
  assert.ok(!runner.commands.some((c) => c.argv.some((x) => x.includes('tok-123456'))));
  await assert.rejects(createIncusDriver({ env: ENV, runner }).exec('veza-staging-api-blue', { argv: ['ls'], cwd: '../../etc' }), /leaves the slot/);
  await assert.rejects(createIncusDriver({ env: ENV, runner: host([]) }).exec('veza-staging-api-blue', { argv: ['ls'] }), (e: unknown) => isVezaError(e) && e.code === 'NO_SLOT');
});

test('the logs command follows the slot unit inside its container', () => {
  assert.deepEqual(createIncusDriver({ env: ENV, runner: host([]) }).logsCommand('veza-staging-api-blue'),
    ['incus', 'exec', 'veza-staging-api-blue', '--project', 'default', '--', 'journalctl', '--no-pager', '-n', '200', '-f', '-u', 'veza-slot.service']);
});

test('probe: one GET inside the slot container as nobody, against 127.0.0.1; a failed exec is a reason, not a throw', async () => {
  const runner = host([], (argv) => (argv.includes('8080') ? { stdout: 'HTTP/1.1 200 OK\r' } : { exitCode: 1, stderr: 'Error: Instance not found' }));
  const driver = createIncusDriver({ env: ENV, runner });
  assert.deepEqual(await driver.probe('veza-staging-api-blue', 8080, '/api/v1/health', 2_000), { target: 'http://127.0.0.1:8080/api/v1/health inside veza-staging-api-blue', status: 200 });
  const argv = runner.commands[0]!.argv;
  assert.deepEqual(argv.slice(0, argv.indexOf('--') + 5), ['incus', 'exec', 'veza-staging-api-blue', '--disable-stdin', '--cwd', '/', '--user', '65534', '--group', '65534', '--project', 'default', '--', 'timeout', '-k', '1', '2']);
  assert.deepEqual(argv.slice(-3), ['veza-probe', '8080', '/api/v1/health']);
  assert.equal(runner.commands.length, 1, 'nothing but the probe runs');
  assert.deepEqual(await driver.probe('veza-staging-api-blue', 8081, '/health', 2_000), { target: 'http://127.0.0.1:8081/health inside veza-staging-api-blue', error: 'Error: Instance not found' });
  await assert.rejects(driver.probe('veza-staging-api-blue', 8080, '/a b', 2_000), (e: unknown) => isVezaError(e) && e.code === 'INVALID_INPUT');
  assert.equal(runner.commands.length, 2, 'bad input runs nothing');
});
