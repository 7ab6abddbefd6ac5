import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';
import { FAIL2BAN_JAIL, SSHD_DROP_IN, UNATTENDED } from '@veza/engine/host/baseline';
import { CLIENT_INSIDE } from '@veza/engine/host/runner';
import { IncusClient } from '@veza/engine/hosts/incus/client';
import { createProcessRunner } from '@veza/engine/ports/process';
import { WORKSPACE_ROOT } from '../support/entry-process';
import { literal, ownEnvironmentCopy, stopwatch } from './support/steps';

/**
 * Issue 16's Incus-side proof of `infra-host:bootstrap`, beside the deploy
 * tier (the tier runs two files at once): a copy of this repository with an
 * environment of its own (`incus-host`: project veza-itest-host, prefix
 * veza-ihost-, its own runner and edge names and port), wiped before and
 * after, pass or fail.
 * - bootstrap twice through `nx`: the second run changes nothing (same
 *   instances, profiles, runner config) and says so;
 * - the runner container it made, given Debian's nodejs and the workspace
 *   as a production runner's checkout would have them: `incus list` from
 *   inside sees the host daemon's instances, and `nx run
 *   infra-deploy:status` answers from there;
 * - the common baseline applied to that runner container by the product's
 *   own `bootstrap --baseline` run inside it: skipped with the note while
 *   the container is minbase without sshd, installed and valid (`sshd -t`)
 *   once Debian's openssh-server, fail2ban and unattended-upgrades are
 *   there, and an empty allow-list refused with nothing changed.
 */
const ENV = 'incus-host';
const PROJECT = 'veza-itest-host';
const RUNNER = 'veza-ihost-runner';
const WS = '/root/ws';
const NX_ENV = { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', CI: '1' };

test('incus tier: infra-host:bootstrap twice, the runner container drives the host daemon, the baseline inside it', { timeout: 40 * 60_000 }, async (t) => {
  const { say, timed, summary } = stopwatch('incus-host');
  const { repo } = await ownEnvironmentCopy(t, { name: ENV, prefix: 'veza-ihost-', project: PROJECT, port: 18482, tokenEnv: 'VEZA_IHOST_RUNNER_TOKEN', subnet: '127.79.140', localPort: 18483, nxTimeoutMs: 20 * 60_000 }, say);

  const runner = createProcessRunner();
  const client = new IncusClient(runner, PROJECT);
  const incus = async (...args: string[]) => (await runner.run({ argv: ['incus', ...args], input: '', timeoutMs: 60_000 })).stdout;
  const inside = async (argv: string[], o: { timeoutMs?: number; env?: Record<string, string> } = {}) => client.exec(RUNNER, argv, { check: false, timeoutMs: o.timeoutMs ?? 10 * 60_000, ...(o.env ? { env: o.env } : {}) });
  const hostState = async () => ({
    instances: await incus('list', '--project', PROJECT, '-f', 'csv', '-c', 'ns'),
    profiles: await incus('profile', 'list', '--project', PROJECT, '-f', 'csv'),
    project: await incus('project', 'show', PROJECT),
    appProfile: await incus('profile', 'show', 'veza-app', '--project', PROJECT),
    dataProfile: await incus('profile', 'show', 'veza-data', '--project', PROJECT),
    runner: await incus('config', 'show', RUNNER, '--project', PROJECT),
  });

  await t.test('bootstrap twice: the second run changes nothing', async () => {
    const first = await timed('bootstrap 1', () => repo.nx('run', 'infra-host:bootstrap', `--env=${ENV}`));
    assert.equal(first.code, 0, first.out);
    assert.match(first.out, new RegExp(`running: incus launch veza-test-base ${RUNNER}`));
    // forgejo-runner cannot be built here (README "Deploy runner"): no registration is planned, and the run says why.
    assert.match(first.out, new RegExp(`forgejo-runner is not installed in ${RUNNER}`));
    assert.doesNotMatch(first.out, /forgejo-runner register/);
    const before = await hostState();
    assert.match(before.instances, new RegExp(`^${RUNNER},RUNNING$`, 'm'));
    assert.match(before.runner, /security\.nesting: "true"/);
    assert.match(before.runner, /incus-socket:\n\s+path: \/var\/lib\/incus\/unix\.socket\n\s+shift: \"true\"\n\s+source: \/var\/lib\/incus\/unix\.socket\n\s+type: disk/);

    const second = await timed('bootstrap 2', () => repo.nx('run', 'infra-host:bootstrap', `--env=${ENV}`));
    assert.equal(second.code, 0, second.out);
    assert.match(second.out, /the host is already set up: nothing to do/);
    assert.doesNotMatch(second.out, /running: /);
    assert.deepEqual(await hostState(), before);
  });

  await t.test('from inside the runner container: incus reaches the host daemon, status answers', async () => {
    // What a production runner has: Debian's nodejs, and the checkout with its dependencies (npm ci's node_modules).
    const apt = await timed('apt nodejs in the runner', () => inside(['sh', '-c', 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs prometheus-blackbox-exporter'], { timeoutMs: 15 * 60_000 }));
    assert.equal(apt.exitCode, 0, apt.stderr);
    await timed('push the checkout', async () => {
      assert.equal((await inside(['mkdir', '-p', WS])).exitCode, 0);
      await pipeTar(repo.dir, ['--exclude=./node_modules', '.']);
      await pipeTar(WORKSPACE_ROOT, ['node_modules']);
    });

    const list = await inside([CLIENT_INSIDE, 'list', '--project', PROJECT, '-f', 'csv', '-c', 'ns']);
    assert.equal(list.exitCode, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^${RUNNER},RUNNING$`, 'm'), 'the runner sees itself through the host daemon');

    const status = await timed('status in the runner', () => nxInside('run', 'infra-deploy:status', `--env=${ENV}`));
    assert.equal(status.code, 0, status.out);
    // Nothing is deployed in this project: status says so, slot by slot, from what the host's daemon answered.
    assert.match(status.out, new RegExp(`^${ENV} \\(incus\\): blue serves no verified release at http://localhost:18482$`, 'm'));
    assert.match(status.out, /^edge veza-ihost-haproxy: not running$/m);
    for (const slot of ['api-blue', 'stream-blue', 'web-blue', 'api-green', 'stream-green', 'web-green']) assert.match(status.out, new RegExp(`veza-ihost-${slot} +absent +absent`));
    assert.match(status.out, /^lock: free$/m);
    assert.match(status.out, /^history \(newest first\):\n {2}\(none\)$/m);
  });

  await t.test('the common baseline in the runner container: skipped without sshd, installed with it, an empty allow-list refused', async () => {
    const bare = await timed('baseline without sshd', () => nxInside('run', 'infra-host:bootstrap', `--env=${ENV}`, '--baseline'));
    assert.equal(bare.code, 0, bare.out);
    assert.match(bare.out, /sshd is absent \(no \/etc\/ssh\/sshd_config\): the SSH drop-in and the fail2ban sshd jail are skipped/);
    assert.equal((await inside(['test', '-e', `/etc/${SSHD_DROP_IN}`])).exitCode, 1);
    assert.equal((await inside(['test', '-s', `/etc/${UNATTENDED}`])).exitCode, 0);

    const apt = await timed('apt sshd fail2ban unattended-upgrades', () => inside(['sh', '-c', 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openssh-server fail2ban unattended-upgrades'], { timeoutMs: 15 * 60_000 }));
    assert.equal(apt.exitCode, 0, apt.stderr);
    const full = await timed('baseline with sshd', () => nxInside('run', 'infra-host:bootstrap', `--env=${ENV}`, '--baseline'));
    assert.equal(full.code, 0, full.out);
    assert.match(full.out, new RegExp(`checked ${literal(SSHD_DROP_IN)}`));
    assert.match(full.out, new RegExp(`checked ${literal(FAIL2BAN_JAIL)}`));
    assert.match(full.out, new RegExp(`installed /etc/${literal(SSHD_DROP_IN)}`));
    assert.match((await inside(['cat', `/etc/${SSHD_DROP_IN}`])).stdout, /^AllowUsers root$/m);
    const sshd = await inside(['sh', '-c', 'mkdir -p /run/sshd && sshd -t && sshd -T | grep -E "^(permitrootlogin|passwordauthentication|allowusers) "']);
    assert.equal(sshd.exitCode, 0, sshd.stderr);
    assert.match(sshd.stdout, /^permitrootlogin no$/m);
    assert.match(sshd.stdout, /^passwordauthentication no$/m);
    assert.equal((await inside(['fail2ban-client', '-t'])).exitCode, 0);
    const dump = await inside(['apt-config', 'dump', 'Unattended-Upgrade']);
    assert.match(dump.stdout, /^Unattended-Upgrade::Automatic-Reboot "false";$/m);

    const files = () => inside(['sha256sum', `/etc/${SSHD_DROP_IN}`, `/etc/${FAIL2BAN_JAIL}`, `/etc/${UNATTENDED}`]).then((r) => r.stdout);
    const installed = await files();
    assert.equal((await inside(['sed', '-i', 's/allowUsers: \\[root\\]/allowUsers: []/', `${WS}/infra/host/${ENV}.yaml`])).exitCode, 0);
    const empty = await nxInside('run', 'infra-host:bootstrap', `--env=${ENV}`, '--baseline');
    assert.notEqual(empty.code, 0, empty.out);
    assert.match(empty.out, /empty allow-list locks every operator out/);
    assert.equal(await files(), installed, 'the refused run changed no file');
  });

  summary();

  /** Streams a tree of this machine into the runner's checkout (tar through `incus exec`'s stdin). */
  async function pipeTar(dir: string, what: string[]): Promise<void> {
    const pack = spawn('tar', ['-C', dir, '-cf', '-', ...what], { stdio: ['ignore', 'pipe', 'inherit'] });
    const unpack = spawn('incus', ['exec', RUNNER, '--project', PROJECT, '--', 'tar', '-C', WS, '-xf', '-'], { stdio: ['pipe', 'inherit', 'inherit'] });
    pack.stdout.pipe(unpack.stdin);
    const done = (p: ReturnType<typeof spawn>) => new Promise<number>((resolve) => p.on('close', (code) => resolve(code ?? -1)));
    assert.deepEqual(await Promise.all([done(pack), done(unpack)]), [0, 0], `tar ${what.join(' ')} from ${dir} into ${RUNNER}`);
  }

  /** `nx` in the runner's checkout, as its job would run it; stdout and stderr (the log) without colours. */
  async function nxInside(...args: string[]): Promise<{ code: number; out: string }> {
    const r = await inside(['sh', '-c', `cd ${WS} && exec node_modules/.bin/nx "$@"`, 'nx', ...args], { env: NX_ENV, timeoutMs: 15 * 60_000 });
    return { code: r.exitCode, out: stripVTControlCharacters(`${r.stdout}\n${r.stderr}`) };
  }
});
