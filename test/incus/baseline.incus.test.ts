import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { FAIL2BAN_JAIL, SSHD_DROP_IN, UNATTENDED } from '@veza/engine/host/baseline';
import * as cli from '@veza/engine/hosts/incus/cli';
import { IncusClient } from '@veza/engine/hosts/incus/client';
import { createProcessRunner } from '@veza/engine/ports/process';
import { literal, ownEnvironmentCopy, stopwatch } from './support/steps';

/**
 * Issue 16 item 2 through the product path, `nx run infra-host:baseline`,
 * in an Incus project of its own (veza-itest-baseline, wiped before and after,
 * pass or fail), with an environment whose edge and data containers are two
 * containers from the shared test image:
 * - the data container `veza-hb-postgres` gets Debian's openssh-server,
 *   fail2ban and unattended-upgrades by apt: it receives the three files,
 *   each checked by its tool (and sshd -t, fail2ban-client -t, apt-config
 *   agree afterwards);
 * - the edge container `veza-hb-haproxy` stays minbase without sshd: the SSH
 *   parts are skipped with the note, unattended-upgrades still applies;
 * - the runner and the other data containers do not exist: reported absent;
 * - a dry-run first changes nothing, a second real run changes nothing, and
 *   an empty allow-list is refused before any container is touched
 *   (checksums of every baseline file in both containers).
 */
const ENV = 'hbase';
const PROJECT = 'veza-itest-baseline';
const EDGE = 'veza-hb-haproxy';
const DATA = 'veza-hb-postgres';
const IMAGE = 'veza-test-base';
const NETWORK = 'vezatestbr0';
const POOL = 'veza-test-btrfs';

test('incus tier: infra-host:baseline hardens an environment\'s containers through incus exec', { timeout: 30 * 60_000 }, async (t) => {
  const { say, timed, summary } = stopwatch('incus-baseline');
  const { repo } = await ownEnvironmentCopy(t, { name: ENV, prefix: 'veza-hb-', project: PROJECT, port: 18592, tokenEnv: 'VEZA_HB_RUNNER_TOKEN', subnet: '127.82.0', localPort: 18593, nxTimeoutMs: 15 * 60_000 }, say);

  const runner = createProcessRunner();
  const client = new IncusClient(runner, PROJECT);
  const inside = (name: string, argv: string[], timeoutMs = 60_000) => client.exec(name, argv, { check: false, timeoutMs });
  const baselineNx = (...extra: string[]) => repo.nx('run', 'infra-host:baseline', `--env=${ENV}`, ...extra);
  /** Every baseline file of both containers, with its checksum or its absence. */
  const checksums = async () => {
    const out: Record<string, string> = {};
    for (const name of [EDGE, DATA]) {
      for (const f of [SSHD_DROP_IN, FAIL2BAN_JAIL, UNATTENDED]) {
        // Through output(): a checksum read whose answer was dropped under load is asked again, not taken for ''.
        const text = await client.output(name, ['sh', '-c', 'sha256sum "$1" 2>/dev/null || echo absent', 'veza', `/etc/${f}`], { timeoutMs: 60_000 });
        out[`${name}:${f}`] = text.trim().split(' ')[0]!;
      }
    }
    return out;
  };

  await timed('two containers', async () => {
    await runner.run(cli.projectCreate(PROJECT));
    await Promise.all([EDGE, DATA].map((name) => client.run(cli.launch(client.scope, { image: IMAGE, name, profiles: [], network: NETWORK, pool: POOL }))));
    await Promise.all([EDGE, DATA].map((name) => client.waitReady(name, { timeoutMs: 180_000 })));
  });
  const apt = await timed('apt openssh-server fail2ban unattended-upgrades', () => client.exec(DATA, ['sh', '-c', 'apt-get update -q && apt-get install -y -q --no-install-recommends openssh-server fail2ban unattended-upgrades'],
    { check: false, env: { DEBIAN_FRONTEND: 'noninteractive' }, timeoutMs: 15 * 60_000 }));
  assert.equal(apt.exitCode, 0, apt.stderr);
  assert.equal((await inside(EDGE, ['sh', '-c', 'command -v sshd'])).exitCode === 0, false, 'the edge container is minbase without sshd');
  const pristine = await checksums();

  await t.test('a dry-run reports what it would change and changes nothing', async () => {
    const dry = await timed('baseline --dry-run', () => baselineNx('--dry-run'));
    assert.equal(dry.code, 0, dry.out);
    assert.match(dry.out, new RegExp(`${DATA} \\(data\\): would apply — would create /etc/${literal(SSHD_DROP_IN)}; would create /etc/${literal(FAIL2BAN_JAIL)}; would create /etc/${literal(UNATTENDED)}`));
    assert.match(dry.out, new RegExp(`${EDGE} \\(edge\\): would apply — would create /etc/${literal(UNATTENDED)}; skipped: no sshd`));
    assert.match(dry.out, /nothing was changed \(dry-run\)/);
    assert.match(dry.out, new RegExp(`--- container ${DATA}:/etc/${literal(SSHD_DROP_IN)} \\(absent\\)$[^]*^\\+AllowUsers root$`, 'm'), 'the change, as a diff');
    assert.deepEqual(await checksums(), pristine);
  });

  await t.test('applied: the sshd container gets the checked files, the one without sshd is skipped with the note', async () => {
    const first = await timed('baseline 1', () => baselineNx());
    assert.equal(first.code, 0, first.out);
    say(`report:\n${first.out.split('\n').filter((l) => /\((edge|data|runner)\): /.test(l)).join('\n')}`);
    assert.match(first.out, new RegExp(`checked ${literal(SSHD_DROP_IN)} on container ${DATA}`));
    assert.match(first.out, new RegExp(`checked ${literal(FAIL2BAN_JAIL)} on container ${DATA}`));
    assert.match(first.out, new RegExp(`${DATA} \\(data\\): applied — installed /etc/${literal(SSHD_DROP_IN)}; installed /etc/${literal(FAIL2BAN_JAIL)}; installed /etc/${literal(UNATTENDED)}`));
    assert.match(first.out, new RegExp(`${EDGE}: sshd is absent \\(no /etc/ssh/sshd_config\\): the SSH drop-in and the fail2ban sshd jail are skipped`));
    assert.match(first.out, new RegExp(`${EDGE} \\(edge\\): applied — installed /etc/${literal(UNATTENDED)}; skipped: no sshd`));
    assert.match(first.out, /veza-hb-runner \(runner\): absent/);
    assert.match(first.out, /veza-hb-redis \(data\): absent/);

    assert.match((await inside(DATA, ['cat', `/etc/${SSHD_DROP_IN}`])).stdout, /^AllowUsers root$/m);
    const sshd = await inside(DATA, ['sh', '-c', 'sshd -t && sshd -T | grep -E "^(permitrootlogin|passwordauthentication|allowusers) "']);
    assert.equal(sshd.exitCode, 0, sshd.stderr);
    assert.match(sshd.stdout, /^permitrootlogin no$/m);
    assert.match(sshd.stdout, /^allowusers root$/m);
    assert.equal((await inside(DATA, ['fail2ban-client', '-t'])).exitCode, 0);
    for (const name of [EDGE, DATA]) assert.match((await inside(name, ['apt-config', 'dump', 'Unattended-Upgrade'])).stdout, /^Unattended-Upgrade::Automatic-Reboot "false";$/m);
    assert.equal((await inside(EDGE, ['test', '-e', `/etc/${SSHD_DROP_IN}`])).exitCode, 1, 'no drop-in where sshd is absent');
  });

  await t.test('a second run changes nothing', async () => {
    const before = await checksums();
    const second = await timed('baseline 2', () => baselineNx());
    assert.equal(second.code, 0, second.out);
    assert.match(second.out, new RegExp(`${DATA} \\(data\\): unchanged$`, 'm'));
    assert.match(second.out, new RegExp(`${EDGE} \\(edge\\): unchanged — skipped: no sshd`));
    assert.doesNotMatch(second.out, /installed \/etc\//);
    assert.deepEqual(await checksums(), before);
  });

  await t.test('an empty allow-list is refused before any container is touched', async () => {
    const before = await checksums();
    const hostFile = join(repo.dir, `infra/host/${ENV}.yaml`);
    await fs.writeFile(hostFile, (await fs.readFile(hostFile, 'utf8')).replace('allowUsers: [root]', 'allowUsers: []'));
    const empty = await timed('baseline refused', () => baselineNx());
    assert.notEqual(empty.code, 0, empty.out);
    assert.match(empty.out, /empty allow-list locks every operator out/);
    assert.doesNotMatch(empty.out, /veza-hb-|checked /);
    assert.deepEqual(await checksums(), before);
  });

  summary();
});
