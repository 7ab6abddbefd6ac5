import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Workspace } from '../config/workspace';
import { instancesJson, scriptedRunner, sub, type Answer } from '../hosts/incus/testing/scripted-runner';
import type { Command } from '../ports/process';
import { isVezaError } from '../log/errors';
import { createMemoryLogger } from '../log/logger';
import { bootstrapHost, preseed } from './bootstrap';
import { hostWorkspace } from './testing/workspace';

const TOKEN = 'rt-0123456789abcdefSECRET';
const HOST_FILE = ['name: prod', 'ssh: { allowUsers: [senke] }', 'runner: { url: "https://forgejo.example", labels: [incus, self-hosted] }', ''].join('\n');

/** The real workspace's environments, with a root of its own for the host file and dist/. */
const workspace = (t: TestContext, hostFile = HOST_FILE): Promise<Workspace> => hostWorkspace(t, hostFile, ['infra/observability']);

interface FakeHost {
  pools: string[];
  networks: string[];
  profiles: { name: string; devices: Record<string, Record<string, string>> }[];
  runner?: { status: string; config: Record<string, string>; devices: Record<string, Record<string, string>>; client: boolean; binary: boolean; registered: boolean };
  /** The collector container `veza-otelcol`: its files' sha256 by path, its unit's state. */
  collector?: { files: Record<string, string>; enabled: boolean; restarts: number };
  /** What the collector's build script prints. */
  collectorBinary?: string;
}

const COLLECTOR_CT = 'veza-otelcol';
const sha = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

/** The collector container's answers (undefined: the command is not about it). */
function collectorAnswer(h: FakeHost, argv: string[], cmd: Command): Answer {
  if (argv[0] === 'bash' && argv[1]!.endsWith('tools/scripts/otelcol-build.sh')) return { stdout: `${h.collectorBinary}\n` };
  const s = sub(argv);
  if (s.startsWith('launch') && argv[3] === COLLECTOR_CT) return void (h.collector = { files: {}, enabled: false, restarts: 0 });
  if (s.startsWith('file push') && argv[4]!.startsWith(`${COLLECTOR_CT}/`)) return void (h.collector!.files[argv[4]!.slice(COLLECTOR_CT.length)] = sha(readFileSync(argv[3]!)));
  if (!s.startsWith(`exec ${COLLECTOR_CT}`)) return undefined;
  const c = h.collector!;
  const inner = argv.slice(argv.indexOf('--') + 1);
  if (inner[0] === 'sh' && inner[2]!.startsWith('"$@"')) {
    // client.output around the inspection script, whose last three arguments are the binary, config and unit paths.
    const [bin, conf, unit] = inner.slice(-3).map((p) => c.files[p] ?? sha(''));
    return { stdout: `binary=${bin}\nconfig=${conf}\nunit=${unit}\nenabled=${c.enabled ? 'enabled' : 'disabled'}\nactive=${c.restarts ? 'active' : 'inactive'}\n.` };
  }
  if (inner[0] === 'sh' && inner[2]!.includes('mv -f "$tmp" "$dest"')) return void (c.files[inner[4]!] = sha(String(cmd.input)));
  if (inner.join(' ') === 'systemctl enable --quiet veza-otelcol') return void (c.enabled = true);
  if (inner.join(' ') === 'systemctl restart veza-otelcol') return void c.restarts++;
  return {};
}

/**
 * An Incus host as the client sees it, changed by the commands the bootstrap
 * runs: what one run applies, the next run's inspection finds.
 */
function fakeIncus(h: FakeHost) {
  return scriptedRunner((argv, cmd) => {
    const collector = collectorAnswer(h, argv, cmd);
    if (collector !== undefined || argv[0] === 'bash' || argv.includes(COLLECTOR_CT) || argv.some((a) => a.startsWith(`${COLLECTOR_CT}/`))) return collector;
    const s = sub(argv);
    const name = argv[2] === 'device' ? argv[4] : argv[2];
    if (s === 'query /1.0') return { stdout: '{}' };
    if (s === 'admin init') {
      h.pools.push('default');
      h.networks.push('net-veza');
      return {};
    }
    if (s === 'storage list') return { stdout: JSON.stringify(h.pools.map((n) => ({ name: n }))) };
    if (s === 'network list') return { stdout: JSON.stringify(h.networks.map((n) => ({ name: n }))) };
    if (s === 'profile list') return { stdout: JSON.stringify(h.profiles) };
    if (s.startsWith('profile create')) h.profiles.push({ name: argv[3]!, devices: {} });
    else if (s.startsWith('profile device add')) h.profiles.find((p) => p.name === argv[4])!.devices.root = { type: 'disk', path: '/', pool: argv[8]!.slice(5) };
    else if (s.startsWith('config device get') || s.startsWith('config show')) return { exitCode: 1, stderr: 'Error: Instance not found' };
    else if (s === 'list') return { stdout: instancesJson([...(h.runner ? [{ name: 'forgejo-runner', status: h.runner.status, config: h.runner.config, devices: h.runner.devices }] : []), ...(h.collector ? [{ name: COLLECTOR_CT }] : [])]) };
    else if (s.startsWith('launch')) h.runner = { status: 'Running', config: { 'security.nesting': 'true' }, devices: {}, client: false, binary: true, registered: false };
    else if (s.startsWith('config device add')) h.runner!.devices[argv[5]!] = { type: argv[6]!, ...Object.fromEntries(argv.slice(7, argv.indexOf('--project')).map((kv) => kv.split('='))) };
    else if (s.startsWith('config set')) h.runner!.config['security.nesting'] = 'true';
    else if (s.startsWith('stop')) h.runner!.status = 'Stopped';
    else if (s.startsWith('start')) h.runner!.status = 'Running';
    else if (s.startsWith('file push')) h.runner!.client = true;
    else if (s.startsWith('exec')) {
      const inner = argv.slice(argv.indexOf('--') + 1);
      if (inner[0] === 'test') return { exitCode: h.runner!.client ? 0 : 1 };
      if (inner[0] === 'sh' && inner[2] === 'command -v forgejo-runner >/dev/null') return { exitCode: h.runner!.binary ? 0 : 1 };
      if (inner[0] === 'sh') return { exitCode: h.runner!.registered ? 0 : 1 };
      if (inner[0] === 'forgejo-runner') {
        assert.equal(String(cmd.input), `https://forgejo.example\n${TOKEN}\nforgejo-runner\nincus:host,self-hosted:host\n`, 'the four answers of the interactive registration, on stdin');
        h.runner!.registered = true;
      }
    } else if (argv[0] === 'prometheus-blackbox-exporter') return {};
    void name;
    return {};
  });
}

const env = { FORGEJO_RUNNER_TOKEN: TOKEN };

test('a never-initialised host: preseed, profiles on the pool, runner container with socket, nesting, client and registration; the second run changes nothing', async (t) => {
  const ws = await workspace(t);
  const h: FakeHost = { pools: [], networks: [], profiles: [] };
  const runner = fakeIncus(h);
  const log = createMemoryLogger();
  const first = await bootstrapHost({ workspace: ws, env: 'prod', log, runner, environ: env, argv: ['node', 'nx', 'run', 'infra-host:bootstrap', '--env=prod'] });
  assert.deepEqual(first.commands.map((c) => c.split(' ').slice(1, 4).join(' ')), [
    'admin init --preseed',
    'profile create veza-app',
    'profile device add',
    'profile create veza-data',
    'profile device add',
    'launch images:debian/13 forgejo-runner',
    'config device add',
    'file push /usr/bin/incus',
  ]);
  assert.ok(first.notes.some((n) => /forgejo-runner is not installed/.test(n)), 'a container launched now has no runner binary yet');
  assert.ok(first.commands.includes('incus config device add forgejo-runner incus-socket disk source=/var/lib/incus/unix.socket path=/var/lib/incus/unix.socket shift=true --project default'));
  assert.match(first.commands.find((c) => c.includes('launch'))!, /--profile veza-app --network net-veza --storage default --config security\.nesting=true/);
  assert.ok(first.commands.some((c) => /^incus file push \/usr\/bin\/incus forgejo-runner\/usr\/local\/bin\/incus .*--mode 0755/.test(c)));
  assert.ok(runner.lines().includes('incus exec forgejo-runner --disable-stdin --project default -- /usr/local/bin/incus query /1.0'), 'the client inside is smoke-tested against the host daemon');
  assert.deepEqual(h.profiles.map((p) => [p.name, p.devices.root?.pool]), [['veza-app', 'default'], ['veza-data', 'default']]);
  assert.equal(h.runner?.registered, false);

  // The operator installs forgejo-runner in the container (see README); the next run registers it.
  const registering = await bootstrapHost({ workspace: ws, env: 'prod', log, runner, environ: env, argv: [] });
  assert.deepEqual(registering.commands.map((c) => c.split(' ').slice(1, 4).join(' ')), ['exec forgejo-runner --disable-stdin', 'exec forgejo-runner --cwd']);
  assert.equal(h.runner?.registered, true);
  assert.deepEqual((await readdir(join(ws.root, 'dist/host/prod'))).sort(), ['alert_rules.yml', 'blackbox-targets.yml', 'blackbox.yml']);

  const second = await bootstrapHost({ workspace: ws, env: 'prod', log, runner, environ: env, argv: [] });
  assert.deepEqual(second.commands, [], 'an initialised host with everything in place plans nothing');
  assert.ok(log.lines.some((l) => l.includes('the host is already set up: nothing to do')));

  for (const c of runner.commands) assert.ok(!c.argv.some((a) => a.includes(TOKEN)), `token in argv: ${c.argv.join(' ')}`);
  for (const l of log.lines) assert.ok(!l.includes(TOKEN), `token in output: ${l}`);
});

test('an initialised host with a half-made runner: only what is missing, and nesting restarts it', async (t) => {
  const ws = await workspace(t);
  const h: FakeHost = {
    pools: ['default', 'fast'], networks: ['net-veza'],
    profiles: [{ name: 'veza-app', devices: { root: { type: 'disk', path: '/', pool: 'default' } } }, { name: 'veza-data', devices: { root: { type: 'disk', path: '/', pool: 'default' } } }],
    runner: { status: 'Running', config: {}, devices: {}, client: true, binary: true, registered: true },
  };
  const runner = fakeIncus(h);
  const r = await bootstrapHost({ workspace: ws, env: 'prod', log: createMemoryLogger(), runner, environ: {}, argv: [] });
  assert.deepEqual(r.commands.map((c) => c.split(' ').slice(1, 3).join(' ')), ['config set', 'stop forgejo-runner', 'start forgejo-runner', 'config device']);
  assert.ok(!runner.lines().some((l) => l.includes('admin init')), 'no preseed on an initialised host');
});

test('dry-run inspects and lists, and changes nothing', async (t) => {
  const ws = await workspace(t);
  const h: FakeHost = { pools: ['default'], networks: ['net-veza'], profiles: [] };
  const runner = fakeIncus(h);
  const r = await bootstrapHost({ workspace: ws, env: 'prod', log: createMemoryLogger(), runner, environ: env, argv: [], dryRun: true });
  assert.equal(r.commands.length, 7, r.commands.join("\n"));
  assert.deepEqual(h.profiles, []);
  assert.equal(h.runner, undefined);
  const ran = runner.lines().map((l) => l.split(' ').slice(1, 3).join(' '));
  assert.ok(ran.every((l) => /^(query|storage list|network list|profile list|config device|config show|list --format|--config\.check)/.test(l) || l.startsWith('--config.file')), ran.join('; '));
});

test('a runner without forgejo-runner installed is reported, not registered', async (t) => {
  const ws = await workspace(t);
  const h: FakeHost = {
    pools: ['default'], networks: ['net-veza'],
    profiles: [{ name: 'veza-app', devices: { root: { type: 'disk', path: '/', pool: 'default' } } }, { name: 'veza-data', devices: { root: { type: 'disk', path: '/', pool: 'default' } } }],
    runner: { status: 'Running', config: { 'security.nesting': 'true' }, devices: { 'incus-socket': { type: 'disk', source: '/var/lib/incus/unix.socket', path: '/var/lib/incus/unix.socket', shift: 'true' } }, client: true, binary: false, registered: false },
  };
  const r = await bootstrapHost({ workspace: ws, env: 'prod', log: createMemoryLogger(), runner: fakeIncus(h), environ: {}, argv: [] });
  assert.deepEqual(r.commands, []);
  assert.ok(r.notes.some((n) => /forgejo-runner is not installed in forgejo-runner/.test(n)));
});

test('a socket device without shift is updated: an unprivileged runner could not use the host-owned socket', async (t) => {
  const ws = await workspace(t);
  const h: FakeHost = {
    pools: ['default'], networks: ['net-veza'],
    profiles: [{ name: 'veza-app', devices: { root: { type: 'disk', path: '/', pool: 'default' } } }, { name: 'veza-data', devices: { root: { type: 'disk', path: '/', pool: 'default' } } }],
    runner: { status: 'Running', config: { 'security.nesting': 'true' }, devices: { 'incus-socket': { type: 'disk', source: '/var/lib/incus/unix.socket', path: '/var/lib/incus/unix.socket' } }, client: true, binary: false, registered: false },
  };
  const r = await bootstrapHost({ workspace: ws, env: 'prod', log: createMemoryLogger(), runner: fakeIncus(h), environ: {}, argv: [] });
  assert.deepEqual(r.commands, ['incus config device set forgejo-runner incus-socket source=/var/lib/incus/unix.socket path=/var/lib/incus/unix.socket shift=true --project default']);
});

async function refused(t: TestContext, hostFile: string, opts: { environ?: NodeJS.ProcessEnv; argv?: string[]; env?: string }, match: RegExp) {
  const ws = await workspace(t, hostFile);
  const runner = fakeIncus({ pools: [], networks: [], profiles: [] });
  await assert.rejects(bootstrapHost({ workspace: ws, env: opts.env ?? 'prod', log: createMemoryLogger(), runner, environ: opts.environ ?? env, argv: opts.argv ?? [] }),
    (e: unknown) => isVezaError(e) && match.test(`${e.message} ${e.hint}`));
  assert.deepEqual(runner.commands, [], 'refused before the first command');
  assert.deepEqual(await readdir(ws.root), ['infra'], 'nothing written');
}

test('bad input is refused before anything runs: empty allow-list, a label with a space, the token as an argument, a local environment', async (t) => {
  await refused(t, HOST_FILE.replace('allowUsers: [senke]', 'allowUsers: []'), {}, /infra\/host\/prod\.yaml:2: ssh\.allowUsers: .*locks every operator out/);
  await refused(t, HOST_FILE.replace('labels: [incus, self-hosted]', 'labels: [incus, "self hosted"]'), {}, /runner\.labels\.1: must be one word .*no spaces/);
  await refused(t, HOST_FILE, { argv: ['node', 'nx', 'run', 'infra-host:bootstrap', `--token=${TOKEN}`] }, /passed as a command-line argument.*revoke/);
  await refused(t, HOST_FILE, { env: 'local' }, /uses the local driver/);
});

test('the preseed creates the environment network, a pool and the default profile', () => {
  const y = preseed('net-veza');
  assert.match(y, /name: net-veza\n\s+type: bridge/);
  assert.match(y, /storage_pools:\n\s+- name: default\n\s+driver: dir/);
});

/** A /proc with the host's identity uid map (or a container's) and an inotify limit. */
async function fakeProc(t: TestContext, uidMap: string, limit: string): Promise<string> {
  const proc = await mkdtemp(join(tmpdir(), 'veza-proc-'));
  t.after(() => rm(proc, { recursive: true, force: true }));
  await mkdir(join(proc, 'self'));
  await mkdir(join(proc, 'sys/fs/inotify'), { recursive: true });
  await writeFile(join(proc, 'self/uid_map'), uidMap);
  await writeFile(join(proc, 'sys/fs/inotify/max_user_instances'), limit);
  return proc;
}

test('a host still at the kernel\'s 128 inotify instances is warned with the command to run; inside a container the limit is not judged', async (t) => {
  const ws = await workspace(t);
  const ready = (): FakeHost => ({
    pools: ['default'], networks: ['net-veza'],
    profiles: [{ name: 'veza-app', devices: { root: { type: 'disk', path: '/', pool: 'default' } } }, { name: 'veza-data', devices: { root: { type: 'disk', path: '/', pool: 'default' } } }],
    runner: { status: 'Running', config: { 'security.nesting': 'true' }, devices: { 'incus-socket': { type: 'disk', source: '/var/lib/incus/unix.socket', path: '/var/lib/incus/unix.socket', shift: 'true' } }, client: true, binary: true, registered: true },
  });
  const etc = await mkdtemp(join(tmpdir(), 'veza-etc-'));
  t.after(() => rm(etc, { recursive: true, force: true }));
  await mkdir(join(etc, 'sysctl.d'));
  await writeFile(join(etc, 'sysctl.d/10-incus-inotify.conf'), 'fs.inotify.max_user_instances = 1024\n');

  const log = createMemoryLogger();
  const low = await bootstrapHost({ workspace: ws, env: 'prod', log, runner: fakeIncus(ready()), environ: {}, argv: [], proc: await fakeProc(t, '0 0 4294967295\n', '128\n'), etc });
  assert.deepEqual(low.commands, [], 'a warning: the rest of the setup still runs');
  assert.ok(low.notes.some((n) => n.startsWith('fs.inotify.max_user_instances is 128 on this Incus host') && n.includes('run as root: sysctl --system')), low.notes.join('\n'));
  assert.ok(log.lines.some((l) => l.includes('max_user_instances is 128')), 'printed');

  const fine = await bootstrapHost({ workspace: ws, env: 'prod', log: createMemoryLogger(), runner: fakeIncus(ready()), environ: {}, argv: [], proc: await fakeProc(t, '0 0 4294967295\n', '1024\n'), etc });
  assert.deepEqual(fine.notes, []);

  const insideLog = createMemoryLogger();
  const inside = await bootstrapHost({ workspace: ws, env: 'prod', log: insideLog, runner: fakeIncus(ready()), environ: {}, argv: [], proc: await fakeProc(t, '0 1000000 1000000000\n', '128\n'), etc });
  assert.deepEqual(inside.notes, [], 'the container\'s own value says nothing about the host');
  assert.ok(insideLog.lines.some((l) => /inside a container .*check it on the host with: sysctl fs\.inotify\.max_user_instances/.test(l)), insideLog.lines.join('\n'));
});


test('an endpoint naming <prefix>otelcol: the collector container is launched, shipped and started; the second run changes nothing; a dry-run only reads', async (t) => {
  const real = await workspace(t);
  const endpoint = 'http://veza-otelcol.lxd:4318';
  const ws: Workspace = { ...real, env: (n) => ({ ...real.env(n), observability: { otlpEndpoint: endpoint } }) };
  const dir = await mkdtemp(join(tmpdir(), 'veza-otelcol-bin-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const binary = join(dir, 'veza-otelcol');
  await writeFile(binary, 'a collector\n');
  const h: FakeHost = { pools: ['default'], networks: ['net-veza'], profiles: [], collectorBinary: binary };

  const dry = fakeIncus(h);
  const planned = await bootstrapHost({ workspace: ws, env: 'prod', log: createMemoryLogger(), runner: dry, environ: env, argv: [], dryRun: true });
  assert.equal(h.collector, undefined, 'nothing launched');
  assert.ok(planned.commands.some((c) => c.startsWith('incus launch images:debian/13 veza-otelcol --quiet --profile veza-data')), planned.commands.join('\n'));
  assert.ok(!dry.lines().some((l) => /exec veza-otelcol|file push/.test(l)), 'a dry-run runs nothing in or into the container');

  const first = await bootstrapHost({ workspace: ws, env: 'prod', log: createMemoryLogger(), runner: fakeIncus(h), environ: env, argv: [] });
  const ct = first.commands.filter((c) => c.includes('veza-otelcol'));
  assert.equal(ct.length, 8, ct.join('\n'));
  assert.deepEqual(Object.keys(h.collector!.files).sort(), ['/etc/systemd/system/veza-otelcol.service', '/etc/veza-otelcol/config.yaml', '/usr/local/bin/veza-otelcol']);
  assert.equal(h.collector!.files['/usr/local/bin/veza-otelcol'], sha(await readFile(binary)), 'the built binary');
  const dist = await readFile(join(ws.root, 'dist/host/prod/otelcol.yaml'), 'utf8');
  assert.equal(h.collector!.files['/etc/veza-otelcol/config.yaml'], sha(dist), 'the container runs the file dist/ shows');
  assert.match(dist, /endpoint: 0\.0\.0\.0:4318/);
  assert.deepEqual([h.collector!.enabled, h.collector!.restarts], [true, 1]);

  const second = fakeIncus(h);
  const again = await bootstrapHost({ workspace: ws, env: 'prod', log: createMemoryLogger(), runner: second, environ: env, argv: [] });
  assert.deepEqual(again.commands.filter((c) => c.includes('veza-otelcol')), [], 'same checksums, running: nothing to ship');
  assert.equal(h.collector!.restarts, 1);
  assert.ok(second.lines().some((l) => /exec veza-otelcol .*-- bash -c .*\/dev\/tcp.* veza 4318$/s.test(l)), 'the receiver is checked every run');

  await writeFile(binary, 'a newer collector\n');
  const rebuilt = await bootstrapHost({ workspace: ws, env: 'prod', log: createMemoryLogger(), runner: fakeIncus(h), environ: env, argv: [] });
  assert.deepEqual(rebuilt.commands.filter((c) => c.includes('veza-otelcol')).map((c) => c.split(' -- ')[1] ?? c.split(' ').slice(1, 3).join(' ')), ['file push', 'systemctl daemon-reload', 'systemctl restart veza-otelcol']);
});

test('an endpoint naming another machine: no collector container, the config left in dist/ for its owner', async (t) => {
  const real = await workspace(t);
  const ws: Workspace = { ...real, env: (n) => ({ ...real.env(n), observability: { otlpEndpoint: 'http://10.99.0.5:4318' } }) };
  const h: FakeHost = { pools: ['default'], networks: ['net-veza'], profiles: [] };
  const runner = fakeIncus(h);
  const log = createMemoryLogger();
  await bootstrapHost({ workspace: ws, env: 'prod', log, runner, environ: env, argv: [] });
  assert.ok(!runner.lines().some((l) => l.includes('veza-otelcol') || l.startsWith('bash ')), runner.lines().join('\n'));
  assert.match(await readFile(join(ws.root, 'dist/host/prod/otelcol.yaml'), 'utf8'), /endpoint: 10\.99\.0\.5:4318/);
  assert.ok(log.lines.some((l) => l.includes('observability.otlpEndpoint does not name veza-otelcol.lxd: the collector is yours to run')), log.lines.join('\n'));
});
