import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isVezaError } from '../log/errors';
import type { ProcessRunner } from '../ports/process';
import { instancesJson, scriptedRunner, sub } from '../hosts/incus/testing/scripted-runner';
import { parseEdgeDefinition, type EdgeDefinition } from '../config/edge';
import { loadWorkspace } from '../config/workspace';
import { createMemoryLogger } from '../log/logger';
import { bootstrapEdge } from './bootstrap';
import { createIncusEdgeHost, deviceCommands, edgeSettings, proxyDevices } from './incus-edge-host';

const ROOT = resolve(__dirname, '../../../..');
async function itestHost(def: EdgeDefinition, runner: ProcessRunner) {
  return createIncusEdgeHost({ settings: edgeSettings(await loadWorkspace(ROOT), def), def, runner });
}
const edge = (extra: string[]) => parseEdgeDefinition('infra/edges/e1.yaml', ['name: e1', 'host: incus', 'runtime: { socketDir: /run/haproxy }', ...extra, ''].join('\n'));

test('proxy devices: the host forwards 0.0.0.0:80/443 into the container (seed 0bd3e563b2), or only the loopback addresses an edge lists', async () => {
  assert.deepEqual(proxyDevices((await loadWorkspace(ROOT)).edge('veza-haproxy')), [
    { name: 'http', listen: 'tcp:0.0.0.0:80', connect: 'tcp:127.0.0.1:80' },
    { name: 'https', listen: 'tcp:0.0.0.0:443', connect: 'tcp:127.0.0.1:443' },
    { name: 'acme', listen: 'tcp:127.0.0.1:8888', connect: 'tcp:127.0.0.1:8888', bind: 'instance' },
  ]);
  assert.deepEqual(proxyDevices((await loadWorkspace(ROOT)).edge('veza-itest-haproxy')), [{ name: 'http', listen: 'tcp:127.0.0.1:18480', connect: 'tcp:127.0.0.1:18480' }]);
  assert.deepEqual(proxyDevices(edge(['http: { port: 8080, addresses: [127.0.0.1, 127.83.0.2] }'])), [
    { name: 'http', listen: 'tcp:127.0.0.1:8080', connect: 'tcp:127.0.0.1:8080' },
    { name: 'http-2', listen: 'tcp:127.83.0.2:8080', connect: 'tcp:127.83.0.2:8080' },
  ], 'HAProxy binds the listed address inside the container: the device connects to that one');
  const acme = (server: string) => ['https: { certDir: /etc/haproxy/certs/ }', `acme: { server: "${server}", directory: "https://ca.example/dir", email: ops@example.com, stateDir: /var/lib/veza/acme }`];
  assert.deepEqual(proxyDevices(edge(acme('10.0.0.1:8888'))).map((d) => d.name), ['http', 'https'], 'a responder on the network needs no device');
  assert.deepEqual(proxyDevices(edge(acme('127.0.0.9:8888'))).at(-1), { name: 'acme', listen: 'tcp:127.0.0.9:8888', connect: 'tcp:127.0.0.9:8888', bind: 'instance' });
  assert.throws(() => proxyDevices(edge(['http: { port: 80, addresses: [192.0.2.10] }'])), (e: unknown) => isVezaError(e) && e.code === 'BAD_CONFIG' && /cannot be bound inside its container/.test(e.message));
});

test('device commands add what is missing, correct what changed and leave the rest (idempotent)', () => {
  const want = [{ name: 'http', listen: 'tcp:0.0.0.0:80', connect: 'tcp:127.0.0.1:80' }, { name: 'https', listen: 'tcp:0.0.0.0:443', connect: 'tcp:127.0.0.1:443' }];
  const inst = (devices: Record<string, Record<string, string>>) => ({ name: 'veza-haproxy', status: 'Running', config: {}, devices, expandedDevices: devices, ipv4: [] });
  const P = { project: 'default' };
  assert.deepEqual(deviceCommands(P, 'veza-haproxy', inst({}), want).map((c) => c.argv.slice(1, 9).join(' ')), [
    'config device add veza-haproxy http proxy listen=tcp:0.0.0.0:80 connect=tcp:127.0.0.1:80',
    'config device add veza-haproxy https proxy listen=tcp:0.0.0.0:443 connect=tcp:127.0.0.1:443',
  ]);
  const current = { http: { type: 'proxy', listen: 'tcp:0.0.0.0:80', connect: 'tcp:127.0.0.1:80' }, https: { type: 'proxy', listen: 'tcp:0.0.0.0:8443', connect: 'tcp:127.0.0.1:443' } };
  assert.deepEqual(deviceCommands(P, 'veza-haproxy', inst(current), want).map((c) => c.argv.slice(1, 8).join(' ')), ['config device set veza-haproxy https listen=tcp:0.0.0.0:443 connect=tcp:127.0.0.1:443']);
  assert.throws(() => deviceCommands(P, 'veza-haproxy', inst({ http: { type: 'nic' } }), want), /device http of type nic/);
  const acme = { name: 'acme', listen: 'tcp:127.0.0.1:8888', connect: 'tcp:127.0.0.1:8888', bind: 'instance' as const };
  assert.deepEqual(deviceCommands(P, 'veza-haproxy', inst({}), [acme]).map((c) => c.argv.slice(1, 10).join(' ')), ['config device add veza-haproxy acme proxy listen=tcp:127.0.0.1:8888 connect=tcp:127.0.0.1:8888 bind=instance']);
  assert.equal(deviceCommands(P, 'veza-haproxy', inst({ acme: { type: 'proxy', listen: acme.listen, connect: acme.connect } }), [acme]).length, 1, 'a device bound on the wrong side is corrected');
  assert.deepEqual(deviceCommands(P, 'veza-haproxy', inst({ acme: { type: 'proxy', listen: acme.listen, connect: acme.connect, bind: 'instance' } }), [acme]), []);
});

test('the edge container lives where the environments it serves live; they must agree', async (t) => {
  assert.deepEqual(edgeSettings(await loadWorkspace(ROOT), (await loadWorkspace(ROOT)).edge('veza-itest-haproxy')), { project: 'veza-itest', network: 'vezatestbr0', image: 'veza-test-base', dnsSuffix: 'incus', storagePool: 'veza-test-btrfs' });
  assert.equal(edgeSettings(await loadWorkspace(ROOT), (await loadWorkspace(ROOT)).edge('veza-haproxy')).network, 'net-veza');
  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-edge-settings-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.mkdir(join(dir, 'infra/environments'), { recursive: true });
  const env = (name: string, network: string) => [`name: ${name}`, 'driver: incus', `prefix: veza-${name}-`, `network: ${network}`, `publicHosts: [${name}.example]`, `publicUrl: https://${name}.example`, 'edge: e1', 'registry: { url: "file:x", owner: o }', ''].join('\n');
  await fs.writeFile(join(dir, 'infra/environments/a.yaml'), env('a', 'net-a'));
  await fs.writeFile(join(dir, 'infra/environments/b.yaml'), env('b', 'net-b'));
  await fs.mkdir(join(dir, 'infra/edges'));
  await fs.writeFile(join(dir, 'infra/edges/e1.yaml'), 'name: e1\nhost: incus\nruntime: { socketDir: /run/haproxy }\n');
  const ws = await loadWorkspace(dir);
  assert.throws(() => edgeSettings(ws, edge([])), (e: unknown) => isVezaError(e) && e.code === 'BAD_CONFIG' && /disagree on their Incus network: a has net-a, b has net-b/.test(e.message));
});

test('an edge no environment names (the lab) lives where its own incus: says, each unset field at the environments\' default', async (t) => {
  const ws = await loadWorkspace(ROOT);
  assert.deepEqual(edgeSettings(ws, ws.edge('veza-lab')), { project: 'default', network: 'net-veza', image: 'images:debian/13', dnsSuffix: 'incus', origin: { network: 'incus.network in infra/edges/veza-lab.yaml', storagePool: 'incus.storagePool in infra/edges/veza-lab.yaml' } });
  const dir = await placementWorkspace(t, 'incus: { project: veza-lab, network: labbr0, image: veza-test-base, storagePool: veza-test-btrfs }', []);
  const def = dir.ws.edge('e1');
  assert.deepEqual(edgeSettings(dir.ws, def), { project: 'veza-lab', network: 'labbr0', image: 'veza-test-base', dnsSuffix: 'incus', storagePool: 'veza-test-btrfs', origin: { network: 'incus.network in infra/edges/e1.yaml', storagePool: 'incus.storagePool in infra/edges/e1.yaml' } });
  const partial = (await placementWorkspace(t, 'incus: { project: veza-lab }', [])).ws;
  assert.deepEqual(edgeSettings(partial, partial.edge('e1')), { project: 'veza-lab', network: 'net-veza', image: 'images:debian/13', dnsSuffix: 'incus', origin: { network: 'incus.network in infra/edges/e1.yaml', storagePool: 'incus.storagePool in infra/edges/e1.yaml' } });
});

test('an edge environments name lives with them: its own incus: must agree with each, and a pool they leave to detection is its own', async (t) => {
  const agree = await placementWorkspace(t, 'incus: { project: p1, network: net-a, storagePool: fast }', [['a', 'net-a', 'incus: { project: p1 }']]);
  assert.deepEqual(edgeSettings(agree.ws, agree.ws.edge('e1')), { project: 'p1', network: 'net-a', image: 'images:debian/13', dnsSuffix: 'incus', storagePool: 'fast', origin: { storagePool: 'incus.storagePool in infra/edges/e1.yaml' } });
  // [the edge's own, env a's extra line, env b's, the refusal]: a leaves its pool to detection, so only b disagrees on it.
  const cases: [string, string, string, RegExp][] = [
    ['incus: { project: p2 }', 'incus: { project: p1 }', 'incus: { project: p1 }', /infra\/edges\/e1\.yaml places its container in Incus project p2, but infra\/environments\/a\.yaml, which it serves, has incus\.project p1/],
    ['incus: { network: net-z }', '', '', /Incus network net-z, but infra\/environments\/a\.yaml, which it serves, has network net-a/],
    ['incus: { image: other }', '', '', /Incus image other, but .*a\.yaml, which it serves, has incus\.image images:debian\/13/],
    ['incus: { storagePool: fast }', '', 'incus: { storagePool: slow }', /Incus storagePool fast, but .*b\.yaml, which it serves, has incus\.storagePool slow/],
  ];
  for (const [own, a, b, message] of cases) {
    const w = await placementWorkspace(t, own, [['a', 'net-a', a], ['b', 'net-a', b]]);
    assert.throws(() => edgeSettings(w.ws, w.ws.edge('e1')), (e: unknown) => isVezaError(e) && e.code === 'BAD_CONFIG' && message.test(e.message) && /nothing was changed/.test(e.hint), own);
  }
});

test('a placement that disagrees stops bootstrap before any command runs', async (t) => {
  const w = await placementWorkspace(t, 'incus: { project: p2 }', [['a', 'net-a', '']]);
  const runner = scriptedRunner(() => ({ stdout: '[]' }));
  await assert.rejects(bootstrapEdge({ workspace: w.ws, edge: 'e1', log: createMemoryLogger(), hostOptions: { runner } }), (e: unknown) => isVezaError(e) && e.code === 'BAD_CONFIG' && /places its container in Incus project p2/.test(e.message));
  assert.deepEqual(runner.lines(), []);
});

/** A workspace of one incus edge `e1` with `incus` as its placement line, and environments [name, network, extra line] on it. */
async function placementWorkspace(t: { after(fn: () => unknown): void }, incus: string, envs: [string, string, string][]) {
  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-edge-placement-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.mkdir(join(dir, 'infra/environments'), { recursive: true });
  await fs.mkdir(join(dir, 'infra/edges'));
  await fs.writeFile(join(dir, 'infra/edges/e1.yaml'), ['name: e1', 'host: incus', 'runtime: { socketDir: /run/haproxy }', incus, ''].join('\n'));
  for (const [name, network, extra] of envs) {
    await fs.writeFile(join(dir, `infra/environments/${name}.yaml`), [`name: ${name}`, 'driver: incus', `prefix: veza-${name}-`, `network: ${network}`, `publicHosts: [${name}.example]`, `publicUrl: https://${name}.example`, 'edge: e1', 'registry: { url: "file:x", owner: o }', extra, ''].join('\n'));
  }
  return { dir, ws: await loadWorkspace(dir) };
}

test('before its container exists the edge reads as empty and stopped, without creating anything', async () => {
  const runner = scriptedRunner((argv) => (sub(argv).startsWith('list') ? { stdout: '[]' } : { exitCode: 1, stderr: 'Error: Instance not found' }));
  const host = await itestHost((await loadWorkspace(ROOT)).edge('veza-itest-haproxy'), runner);
  assert.equal(await host.readConfig(), undefined);
  assert.equal(await host.state.read('active-color-incus-test'), undefined);
  assert.deepEqual(await host.status(), { running: false, detail: 'container veza-itest-haproxy does not exist yet (infra-edge:bootstrap creates it)' });
  assert.ok(runner.lines().every((l) => /^incus (list|exec)/.test(l)) && !runner.lines().some((l) => l.startsWith('incus launch')));
  assert.equal(host.configPath, 'veza-itest-haproxy:/etc/haproxy/haproxy.cfg');
});

test('HAProxy\'s state is read again while systemctl answers nothing, and an unread state is named as such', async () => {
  const def = (await loadWorkspace(ROOT)).edge('veza-itest-haproxy');
  const shows = (answers: { stdout: string; exitCode?: number; stderr?: string }[]) => {
    let asked = 0;
    const runner = scriptedRunner((argv) => {
      if (sub(argv).startsWith('list')) return { stdout: instancesJson([{ name: 'veza-itest-haproxy', ipv4: '10.1.1.1' }]) };
      return answers[Math.min(asked++, answers.length - 1)];
    });
    return { runner, asked: () => asked };
  };
  const blip = shows([{ stdout: '' }, { stdout: 'ActiveState=active\nMainPID=4242\n' }]);
  assert.deepEqual(await (await itestHost(def, blip.runner)).status(), { running: true, pid: 4242, detail: 'HAProxy master 4242 in container veza-itest-haproxy, config /etc/haproxy/haproxy.cfg' });
  assert.equal(blip.asked(), 2, 'the unanswered read was asked again');
  const stopped = shows([{ stdout: 'ActiveState=inactive\nMainPID=0\n' }]);
  assert.deepEqual(await (await itestHost(def, stopped.runner)).status(), { running: false, detail: 'HAProxy in veza-itest-haproxy is inactive' });
  assert.equal(stopped.asked(), 1, 'an answer is taken at once');
  const mute = shows([{ stdout: '', exitCode: 255, stderr: 'Error: websocket: close 1006' }]);
  assert.deepEqual(await (await itestHost(def, mute.runner)).status(), { running: false, detail: 'the state of HAProxy in veza-itest-haproxy could not be read (systemctl show gave no state, exit 255: Error: websocket: close 1006)' });
  assert.equal(mute.asked(), 4, 'within a bound');
});

test('probes run curl inside the edge container: a status is a status, a failure is its curl message', async () => {
  const def = (await loadWorkspace(ROOT)).edge('veza-itest-haproxy');
  const runner = scriptedRunner((argv) => {
    if (sub(argv).startsWith('list')) return { stdout: instancesJson([{ name: 'veza-itest-haproxy', ipv4: '10.1.1.1' }]) };
    const url = argv[argv.length - 1]!;
    if (url.includes('down')) return { exitCode: 6, stdout: '000', stderr: 'curl: (6) Could not resolve host: down.incus' };
    return { stdout: url.includes('/fail') ? '503' : '200' };
  });
  const host = await itestHost(def, runner);
  assert.deepEqual(await host.probe('veza-itest-api-green.incus', 8080, '/api/health', 2_000), { ok: true, status: 200 });
  assert.deepEqual(await host.probe('veza-itest-api-green.incus', 8080, '/fail', 2_000), { ok: false, status: 503 });
  assert.deepEqual(await host.probe('down.incus', 8080, '/x', 2_000), { ok: false, error: 'curl: (6) Could not resolve host: down.incus' });
  const before = runner.commands.length;
  assert.equal((await host.probe('bad host', 80, '/', 1_000)).ok, false);
  assert.equal(runner.commands.length, before, 'an invalid target never reaches a command');
  const curl = runner.commands.find((c) => c.argv.includes('curl'))!;
  assert.deepEqual(curl.argv.slice(curl.argv.indexOf('--')), ['--', 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '2', '--noproxy', '*', 'http://veza-itest-api-green.incus:8080/api/health']);
});

test('the state store creates a lock file only once, in the edge container', async () => {
  const files = new Set<string>();
  const runner = existingEdge((argv, cmd) => {
    const path = argv[argv.length - 1]!;
    if (argv.some((a) => a.includes('ln "$tmp" "$1"'))) {
      if (files.has(path)) return { exitCode: 3 };
      files.add(path);
      assert.equal(cmd.input, '{"holder":1}\n');
    }
    return undefined;
  });
  const host = await itestHost((await loadWorkspace(ROOT)).edge('veza-itest-haproxy'), runner);
  assert.equal(await host.state.createExclusive('locks/incus-test.lock', '{"holder":1}\n'), true);
  assert.equal(await host.state.createExclusive('locks/incus-test.lock', '{"holder":2}\n'), false);
  assert.deepEqual([...files], ['/var/lib/veza/state/locks/incus-test.lock']);
  assert.equal(host.state.location, 'veza-itest-haproxy:/var/lib/veza/state');
  assert.ok(!runner.lines().some((l) => /^incus (launch|config device)/.test(l)), 'an existing, well-configured edge is left as it is');
});

test('certificate files live in the edge container: written atomically with their mode there, the SNI directory listed there, a cut listing asked again', async () => {
  let listings = 0;
  const runner = existingEdge((argv) => {
    if (!argv.some((a) => a.includes('ls -1A'))) return undefined;
    if (!argv.includes('/etc/haproxy/certs/')) return { exitCode: 3 };
    // The first listing comes back cut short (no sentinel), as `incus exec` does under load: it is asked again.
    return ++listings === 1 ? { stdout: '0-default.pem\n' } : { stdout: '0-default.pem\na.example.pem\n.' };
  });
  const host = await itestHost((await loadWorkspace(ROOT)).edge('veza-itest-haproxy'), runner);
  await host.writeFile('/etc/haproxy/certs/a.example.pem', 'PEM\n', 0o600);
  const write = runner.commands.find((c) => c.input === 'PEM\n')!;
  assert.deepEqual(write.argv.slice(write.argv.indexOf('--')).slice(-4), ['veza', '/etc/haproxy/certs/a.example.pem', 'root:root', '0600']);
  assert.ok(write.argv.some((a) => a.includes('mv -f "$tmp" "$dest"')), 'a temp file renamed over the PEM: HAProxy never loads half a file');
  assert.deepEqual(await host.listDir('/etc/haproxy/certs/'), ['0-default.pem', 'a.example.pem']);
  assert.equal(listings, 2, 'a cut listing is not taken for the directory\'s entries');
  assert.deepEqual(await host.listDir('/nowhere/'), []);
});

type Script = Parameters<typeof scriptedRunner>[0];

/**
 * The itest edge as it stands once bootstrapped (running, its proxy device,
 * packages and drop-in in place), so a test sees only the commands of what
 * it does; `more` answers those, or undefined for an empty success.
 */
function existingEdge(more: (...a: Parameters<Script>) => ReturnType<Script> | undefined) {
  return scriptedRunner((argv, cmd) => {
    if (sub(argv).startsWith('list')) return { stdout: instancesJson([{ name: 'veza-itest-haproxy', ipv4: '10.1.1.1', devices: { http: { type: 'proxy', listen: 'tcp:127.0.0.1:18480', connect: 'tcp:127.0.0.1:18480' } } }]) };
    if (argv.includes('is-system-running')) return { stdout: 'running' };
    const names = (...n: string[]) => ({ stdout: JSON.stringify(n.map((name) => ({ name, devices: { root: { type: 'disk', path: '/', pool: 'veza-test-btrfs' } } }))) });
    if (sub(argv).startsWith('project list')) return names('default', 'veza-itest');
    if (sub(argv).startsWith('network list')) return names('vezatestbr0');
    if (sub(argv).startsWith('storage list')) return names('veza-test-btrfs');
    if (sub(argv).startsWith('profile list')) return names('default', 'veza-app', 'veza-data');
    if (argv.some((a) => a.includes('command -v "$p"'))) return { stdout: '' };
    if (argv[argv.length - 1]!.endsWith('veza.conf')) return { stdout: '# written by veza\n[Service]\nExecStartPre=/bin/mkdir -p /run/haproxy\n.' };
    return more(argv, cmd) ?? { stdout: '' };
  });
}
