import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Workspace } from '../config/workspace';
import { instancesJson, scriptedRunner, sub, type Answer } from '../hosts/incus/testing/scripted-runner';
import { isVezaError } from '../log/errors';
import { createMemoryLogger } from '../log/logger';
import { FAIL2BAN_JAIL, SECURITY_ORIGIN, SSHD_DROP_IN, UNATTENDED } from './baseline';
import { applyEnvironmentBaseline, baselineTargets, describeReport } from './environment-baseline';
import { hostWorkspace } from './testing/workspace';

const HOST_FILE = ['name: prod', 'ssh: { allowUsers: [senke] }', 'runner: { url: "https://forgejo.example" }', ''].join('\n');

const workspace = (t: TestContext, hostFile = HOST_FILE): Promise<Workspace> => hostWorkspace(t, hostFile);

interface FakeContainer {
  status: string;
  binaries: string[];
  /** Path → content; a directory exists while a file under it does. */
  files: Map<string, string>;
}

const debian = (sshd: boolean): FakeContainer => ({
  status: 'Running',
  binaries: sshd ? ['sshd', 'fail2ban-client'] : [],
  files: new Map([['/etc/apt/apt.conf.d/50unattended-upgrades', '// Debian\n'], ...(sshd ? [['/etc/ssh/sshd_config', 'Include /etc/ssh/sshd_config.d/*.conf\n'], ['/etc/fail2ban/jail.conf', '[DEFAULT]\n']] as const : [])]),
});

/**
 * Containers as `incus exec` reaches them: the file scripts read and write
 * their map, the Debian checks pass (their real runs are in the Incus tier
 * and baseline.integration.test.ts).
 */
function fakeIncus(containers: Record<string, FakeContainer>) {
  const inside = (c: FakeContainer, argv: string[], input: unknown): Answer => {
    const under = (p: string) => [...c.files.keys()].filter((k) => k === p || k.startsWith(`${p}/`));
    const [cmd, ...args] = argv;
    if (cmd === 'test') return { exitCode: under(args[1]!).length || args[1] === '/run/systemd/system' ? 0 : 1 };
    if (cmd === 'mktemp') return { stdout: '/tmp/veza-baseline-1' };
    if (cmd === 'cp') {
      for (const k of under(args[2]!)) c.files.set(args[3]! + k.slice(args[2]!.length), c.files.get(k)!);
      return {};
    }
    if (cmd === 'rm') {
      for (const k of under(args[2]!)) c.files.delete(k);
      return {};
    }
    if (cmd === 'apt-config') return { stdout: `Unattended-Upgrade::Origins-Pattern "";\nUnattended-Upgrade::Origins-Pattern:: "${SECURITY_ORIGIN}";\nUnattended-Upgrade::Automatic-Reboot "false";` };
    if (cmd === 'sh' && args[1] === 'command -v "$1" || exit 1') return { exitCode: c.binaries.includes(args[3]!) ? 0 : 1 };
    if (cmd === 'sh' && args.length === 6) {
      c.files.set(args[3]!, String(input));
      return {};
    }
    if (cmd === 'sh') return c.files.has(args[3]!) ? { stdout: `${c.files.get(args[3]!)}.` } : { exitCode: 3 };
    return {};
  };
  return scriptedRunner((argv, command) => {
    const s = sub(argv);
    if (s === 'project list') return { stdout: JSON.stringify([{ name: 'default' }]) };
    if (s === 'list') return { stdout: instancesJson(Object.entries(containers).map(([name, c]) => ({ name, status: c.status }))) };
    if (s.startsWith('exec')) return inside(containers[argv[2]!]!, argv.slice(argv.indexOf('--') + 1), command.input);
    throw new Error(`unexpected ${argv.join(' ')}`);
  });
}

const lines = (log: ReturnType<typeof createMemoryLogger>) => log.lines.map((l) => l.replace(/^\[baseline\] /, ''));

test('the targets are the edge, every configured data container and the runner, in that order', async (t) => {
  const ws = await workspace(t);
  const env = ws.env('prod');
  assert.deepEqual(baselineTargets(env, { name: 'veza-haproxy', project: 'default' }, 'forgejo-runner').map((x) => `${x.role} ${x.container} ${x.project}`),
    ['edge veza-haproxy default', 'data veza-postgres default', 'data veza-redis default', 'data veza-rabbitmq default', 'data veza-minio default', 'runner forgejo-runner default']);
});

test('an environment with Sentinel and its own collector container hardens every redis node and the collector', async (t) => {
  const ws = await workspace(t);
  const prod = ws.env('prod');
  const env = {
    ...prod,
    data: { ...prod.data, redis: { ...prod.data.redis!, topology: 'sentinel' as const } },
    observability: { ...prod.observability, otlpEndpoint: `http://${prod.prefix}otelcol.${prod.incus!.dnsSuffix}:4318` },
  };
  assert.deepEqual(baselineTargets(env, { name: 'veza-haproxy', project: 'default' }, 'forgejo-runner').map((x) => `${x.role} ${x.container}`),
    ['edge veza-haproxy', 'data veza-postgres', 'data veza-redis-1', 'data veza-redis-2', 'data veza-redis-3', 'data veza-rabbitmq', 'data veza-minio', 'collector veza-otelcol', 'runner forgejo-runner']);
});

test('a distributed MinIO with the media cache: every MinIO node and the cache container are hardened', async (t) => {
  const ws = await workspace(t);
  const prod = ws.env('prod');
  const env = { ...prod, data: { ...prod.data, minio: { ...prod.data.minio!, topology: 'distributed' as const, cache: { port: 8080, statusPort: 8081, maxSize: '1g', appsThrough: true } } } };
  assert.deepEqual(baselineTargets(env, { name: 'veza-haproxy', project: 'default' }, 'forgejo-runner').map((x) => `${x.role} ${x.container}`),
    ['edge veza-haproxy', 'data veza-postgres', 'data veza-redis', 'data veza-rabbitmq', 'data veza-minio-1', 'data veza-minio-2', 'data veza-minio-3', 'data veza-minio-4', 'data veza-minio-cache', 'runner forgejo-runner']);
});

test('each container is reported: applied with its files, skipped SSH parts without sshd, absent, not running; a second run is unchanged', async (t) => {
  const ws = await workspace(t);
  const containers = { 'veza-haproxy': debian(false), 'veza-postgres': debian(true), 'veza-redis': { ...debian(true), status: 'Stopped' } };
  const runner = fakeIncus(containers);
  const log = createMemoryLogger();
  const first = await applyEnvironmentBaseline({ workspace: ws, env: 'prod', log, runner });
  assert.deepEqual(first.map((r) => `${r.name} ${r.outcome}`), ['veza-haproxy applied', 'veza-postgres applied', 'veza-redis not running', 'veza-rabbitmq absent', 'veza-minio absent', 'forgejo-runner absent']);
  assert.ok(lines(log).includes(`veza-postgres (data): applied — installed /etc/${SSHD_DROP_IN}; installed /etc/${FAIL2BAN_JAIL}; installed /etc/${UNATTENDED}`));
  assert.ok(lines(log).includes(`veza-haproxy (edge): applied — installed /etc/${UNATTENDED}; skipped: no sshd (SSH drop-in and fail2ban jail)`));
  assert.ok(lines(log).includes('veza-redis (data): not running — it is Stopped: start it (incus start veza-redis --project default) and run again'));
  assert.match(containers['veza-postgres'].files.get(`/etc/${SSHD_DROP_IN}`)!, /^AllowUsers senke$/m);
  assert.equal(containers['veza-haproxy'].files.has(`/etc/${SSHD_DROP_IN}`), false);
  assert.equal(containers['veza-redis'].files.has(`/etc/${UNATTENDED}`), false, 'a stopped container is not touched');
  assert.ok(![...containers['veza-postgres'].files.keys()].some((k) => k.startsWith('/tmp/')), 'the staging directory is removed');

  const second = await applyEnvironmentBaseline({ workspace: ws, env: 'prod', log: createMemoryLogger(), runner });
  assert.deepEqual(second.slice(0, 2).map((r) => describeReport(r)), ['veza-haproxy (edge): unchanged — skipped: no sshd (SSH drop-in and fail2ban jail)', 'veza-postgres (data): unchanged']);
});

test('a dry-run proves the files on a staged copy, says what it would create or replace, and installs nothing', async (t) => {
  const ws = await workspace(t);
  const postgres = debian(true);
  postgres.files.set(`/etc/${UNATTENDED}`, 'an older version\n');
  const runner = fakeIncus({ 'veza-postgres': postgres });
  const before = new Map(postgres.files);
  const log = createMemoryLogger();
  const [, r] = await applyEnvironmentBaseline({ workspace: ws, env: 'prod', log, runner, dryRun: true });
  assert.equal(describeReport(r!), `veza-postgres (data): would apply — would create /etc/${SSHD_DROP_IN}; would create /etc/${FAIL2BAN_JAIL}; would replace /etc/${UNATTENDED}`);
  const diffs = lines(log).filter((l) => l.startsWith('--- '));
  assert.equal(diffs.length, 3, 'one diff per file it would write');
  assert.match(diffs.find((d) => d.includes(SSHD_DROP_IN))!, new RegExp(`^--- container veza-postgres:/etc/${SSHD_DROP_IN} \\(absent\\)\n[^]*^\\+AllowUsers senke$`, 'm'));
  assert.match(diffs.find((d) => d.includes(UNATTENDED))!, /^-an older version$[^]*^\+Unattended-Upgrade::Automatic-Reboot "false";$/m);
  assert.ok(runner.lines().some((l) => / -- sshd -t -f \/tmp\/veza-baseline-1\/sshd_config$/.test(l)), 'sshd -t ran on the staged copy');
  assert.deepEqual(postgres.files, before);
  assert.ok(!runner.lines().some((l) => /systemctl/.test(l)), 'nothing reloaded');
});

test('sshd without fail2ban-client is refused before anything is written there; the error names what was already hardened', async (t) => {
  const ws = await workspace(t);
  const postgres = { ...debian(true), binaries: ['sshd'] };
  const runner = fakeIncus({ 'veza-haproxy': debian(false), 'veza-postgres': postgres });
  const before = new Map(postgres.files);
  await assert.rejects(applyEnvironmentBaseline({ workspace: ws, env: 'prod', log: createMemoryLogger(), runner }),
    (e: unknown) => isVezaError(e) && /container veza-postgres runs sshd but has no fail2ban-client/.test(e.message) && /apt-get install fail2ban/.test(e.hint) && /already hardened before it: veza-haproxy \(running again/.test(e.hint));
  assert.deepEqual(postgres.files, before);
});

test('an empty allow-list, or an environment without containers, is refused before any command runs', async (t) => {
  const empty = await workspace(t, HOST_FILE.replace('[senke]', '[]'));
  const runner = fakeIncus({ 'veza-postgres': debian(true) });
  await assert.rejects(applyEnvironmentBaseline({ workspace: empty, env: 'prod', log: createMemoryLogger(), runner }),
    (e: unknown) => isVezaError(e) && /empty allow-list locks every operator out/.test(e.message));
  await assert.rejects(applyEnvironmentBaseline({ workspace: await workspace(t), env: 'local', log: createMemoryLogger(), runner }),
    (e: unknown) => isVezaError(e) && /uses the local driver: it has no containers to harden/.test(e.message) && /bootstrap --baseline/.test(e.hint));
  assert.deepEqual(runner.commands, []);
});
