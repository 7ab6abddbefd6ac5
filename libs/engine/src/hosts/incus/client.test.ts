import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isVezaError } from '../../log/errors';
import { IncusClient } from './client';
import { parseInstances, parseSnapshots } from './json';
import { instancesJson, scriptedRunner, sub } from './testing/scripted-runner';

test('incus list JSON: status, labels, devices and the global IPv4 addresses of every interface but lo', () => {
  const [i] = parseInstances(instancesJson([{ name: 'veza-itest-api-blue', config: { 'user.veza.slot': 'veza-itest-api-blue' }, devices: { http: { type: 'proxy', listen: 'tcp:0.0.0.0:80' } }, ipv4: '10.0.20.7' }]));
  assert.deepEqual(i, {
    name: 'veza-itest-api-blue', status: 'Running', config: { 'user.veza.slot': 'veza-itest-api-blue' },
    devices: { http: { type: 'proxy', listen: 'tcp:0.0.0.0:80' } }, expandedDevices: { http: { type: 'proxy', listen: 'tcp:0.0.0.0:80' } }, ipv4: ['10.0.20.7'],
  });
  assert.deepEqual(parseInstances('null'), []);
  assert.throws(() => parseInstances('Error: not json'), (e: unknown) => isVezaError(e) && e.code === 'INCUS_OUTPUT');
  assert.throws(() => parseInstances('[{"status":"Running"}]'), /name is missing/);
});

test('snapshots come oldest first', () => {
  const s = parseSnapshots(JSON.stringify([{ name: 'b', created_at: '2026-01-02T00:00:00Z' }, { name: 'a', created_at: '2026-01-01T00:00:00Z' }]));
  assert.deepEqual(s.map((x) => x.name), ['a', 'b']);
});

test('readFile returns the bytes exactly, undefined for a missing file, and quotes the command otherwise', async () => {
  const runner = scriptedRunner((argv) => {
    const path = argv[argv.length - 1];
    if (path === '/etc/missing') return { exitCode: 3 };
    if (path === '/etc/broken') return { exitCode: 1, stderr: 'cat: /etc/broken: Permission denied' };
    // The runner strips one final newline, as execa does; the sentinel keeps the file's own.
    return { stdout: 'line\n.' };
  });
  const c = new IncusClient(runner, 'default');
  assert.equal(await c.readFile('edge', '/etc/haproxy/haproxy.cfg'), 'line\n');
  assert.equal(await c.readFile('edge', '/etc/missing'), undefined);
  await assert.rejects(c.readFile('edge', '/etc/broken'), (e: unknown) => isVezaError(e) && e.code === 'COMMAND_FAILED' && /incus exec edge/.test(e.message) && /Permission denied/.test(e.message));
});

test('readFile reads again when incus exec exits 0 with its output cut short, or does not get through; a bounded number of times', async () => {
  let calls = 0;
  const flaky = scriptedRunner(() => (++calls === 1 ? { stdout: '{"partial' } : calls === 2 ? { exitCode: 255, stderr: 'Error: websocket closed' } : { stdout: '{"whole":true}.' }));
  assert.equal(await new IncusClient(flaky, 'default').readFile('edge', '/var/lib/veza/state/h.json'), '{"whole":true}');
  assert.equal(calls, 3);

  let tries = 0;
  const cut = scriptedRunner(() => (tries++, { stdout: '{"partial' }));
  await assert.rejects(new IncusClient(cut, 'default').readFile('edge', '/var/lib/veza/state/h.json'), (e: unknown) => isVezaError(e) && e.code === 'COMMAND_FAILED');
  assert.equal(tries, 4, 'then it is an error');
});

test('writeFile sends the content on stdin and names path, owner and mode as arguments', async () => {
  const runner = scriptedRunner(() => ({}));
  await new IncusClient(runner, 'p1').writeFile('ct', '/etc/veza/slot.env', 'SECRET="x"\n', { mode: '0600' });
  const cmd = runner.commands[0]!;
  assert.equal(cmd.input, 'SECRET="x"\n');
  assert.deepEqual(cmd.argv.slice(-4), ['veza', '/etc/veza/slot.env', 'root:root', '0600']);
  assert.ok(!cmd.argv.some((a) => a.includes('SECRET')));
});

test('waitReady waits for running, an address and a booted systemd, and gives up at its bound naming the last state', async () => {
  let polls = 0;
  const booting = scriptedRunner((argv) => {
    if (sub(argv).startsWith('list')) {
      polls++;
      return { stdout: instancesJson([{ name: 'ct', ...(polls > 2 ? { ipv4: '10.1.1.2' } : {}) }]) };
    }
    return { stdout: polls > 3 ? 'degraded' : 'starting', exitCode: 1 };
  });
  const inst = await new IncusClient(booting, 'default').waitReady('ct', { timeoutMs: 5_000, intervalMs: 1 });
  assert.deepEqual(inst.ipv4, ['10.1.1.2']);

  const noDhcp = scriptedRunner(() => ({ stdout: instancesJson([{ name: 'ct' }]) }));
  const t0 = Date.now();
  await assert.rejects(new IncusClient(noDhcp, 'p1').waitReady('ct', { timeoutMs: 200, intervalMs: 20 }),
    (e: unknown) => isVezaError(e) && e.code === 'INSTANCE_NOT_READY' && /ct did not become ready within 200 ms: it has no IPv4 address yet/.test(e.message) && /incus info ct --show-log --project p1/.test(e.hint));
  assert.ok(Date.now() - t0 < 5_000, 'the wait is bounded');
});

test('a daemon it cannot reach is INCUS_UNREACHABLE; a command refused inside a container is that command\'s failure', async () => {
  const client = new IncusClient(scriptedRunner((argv) => (sub(argv).startsWith('exec')
    ? { exitCode: 1, stderr: 'Could not connect to Redis at veza-redis-1.incus:6379: Connection refused' }
    : { exitCode: 1, stderr: 'Error: Failed to connect to local daemon: dial unix /var/lib/incus/unix.socket: connect: connection refused' })), 'p');
  await assert.rejects(client.instances(), (e: unknown) => isVezaError(e) && e.code === 'INCUS_UNREACHABLE' && /cannot reach the Incus daemon/.test(e.message));
  await assert.rejects(client.exec('veza-redis-2', ['redis-cli', 'ping']), (e: unknown) => isVezaError(e) && e.code !== 'INCUS_UNREACHABLE' && /Connection refused/.test(e.message));
});

test('output is what a command printed inside, asked again when incus exec exits 0 with the output dropped', async () => {
  const answers = [{ stdout: '' }, { stdout: '600 root\n.' }];
  let asked = 0;
  const runner = scriptedRunner(() => answers[Math.min(asked++, answers.length - 1)]);
  assert.equal(await new IncusClient(runner, 'p').output('c1', ['stat', '-c', '%a %U', '/x']), '600 root\n');
  assert.equal(asked, 2, 'the dropped answer was asked again');
  assert.deepEqual(runner.commands[0]!.argv.slice(runner.commands[0]!.argv.indexOf('--')), ['--', 'sh', '-c', '"$@"; rc=$?; printf .; exit $rc', 'veza', 'stat', '-c', '%a %U', '/x']);
  const failing = new IncusClient(scriptedRunner(() => ({ exitCode: 1, stdout: '.', stderr: 'stat: cannot statx' })), 'p');
  await assert.rejects(failing.output('c1', ['stat', '/nope']), /stat: cannot statx/, 'a command that fails is its failure, at once');
});

test('systemctl: a cut connection to systemd is run again, a unit that fails is not', async () => {
  const answers = [{ exitCode: 1, stderr: 'Created symlink … → /etc/systemd/system/veza-slot.service.\nReload daemon failed: Connection reset by peer' }, { exitCode: 0 }];
  let calls = 0;
  const c = new IncusClient(scriptedRunner(() => answers[Math.min(calls++, answers.length - 1)]!), 'default');
  await c.systemctl('slot', ['enable', '--now', 'veza-slot.service'], { description: 'start the unit' });
  assert.equal(calls, 2, 'enable --now is idempotent: asked again after the cut');

  calls = 0;
  const failing = new IncusClient(scriptedRunner(() => (calls++, { exitCode: 1, stderr: 'Job for veza-slot.service failed because the control process exited with error code.' })), 'default');
  await assert.rejects(failing.systemctl('slot', ['enable', '--now', 'veza-slot.service'], { description: 'start the unit' }), (e: unknown) => isVezaError(e) && /control process exited/.test(e.message));
  assert.equal(calls, 1, 'a unit that failed is reported at once');
});
