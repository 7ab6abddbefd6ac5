import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVezaError } from '../log/errors';
import { createMemoryLogger } from '../log/logger';
import { createProcessRunner } from '../ports/process';
import { localMachine } from './machine';
import { applyBaseline, FAIL2BAN_JAIL, renderSshdDropIn, SSHD_DROP_IN, UNATTENDED } from './baseline';
import { hostSettingsSchema } from './settings';

/**
 * The baseline against Debian's own tools (openssh-server's sshd -t,
 * fail2ban-client -t, apt-config) on a copy of this machine's /etc, so the
 * real configuration they include is part of every check.
 */
const settings = hostSettingsSchema.parse({ name: 'prod', ssh: { allowUsers: ['senke', 'deploy'] }, runner: { url: 'https://forgejo.example' } });

async function etcCopy(t: TestContext, withSsh = true): Promise<string> {
  const etc = await mkdtemp(join(tmpdir(), 'veza-etc-'));
  t.after(() => rm(etc, { recursive: true, force: true }));
  for (const dir of [...(withSsh ? ['ssh', 'fail2ban'] : []), 'apt']) await cp(join('/etc', dir), join(etc, dir), { recursive: true });
  return etc;
}

test('the baseline is proven by sshd -t, fail2ban-client -t and apt-config, installed, and unchanged on a second run', async (t) => {
  const etc = await etcCopy(t);
  const o = { settings, machine: localMachine(createProcessRunner()), log: createMemoryLogger(), etc };
  const first = await applyBaseline(o);
  assert.deepEqual(first.files.map((f) => [f.path, f.action]), [[SSHD_DROP_IN, 'installed'], [FAIL2BAN_JAIL, 'installed'], [UNATTENDED, 'installed']]);
  assert.match(await readFile(join(etc, SSHD_DROP_IN), 'utf8'), /^AllowUsers senke deploy$/m);
  assert.match(await readFile(join(etc, FAIL2BAN_JAIL), 'utf8'), /^maxretry = 5$/m);
  assert.match(await readFile(join(etc, UNATTENDED), 'utf8'), /Automatic-Reboot "false"/);
  const second = await applyBaseline(o);
  assert.deepEqual(second.files.map((f) => f.action), ['unchanged', 'unchanged', 'unchanged']);
});

test('a drop-in sshd rejects, or a jail fail2ban rejects, stops the run before any file is written', async (t) => {
  const etc = await etcCopy(t);
  // A directive sshd does not know, slipped in through the port (the schema would refuse it; the check must too).
  const bad = { ...settings, ssh: { ...settings.ssh, port: 'x\nNoSuchDirective yes' as unknown as number } };
  await assert.rejects(applyBaseline({ settings: bad, machine: localMachine(createProcessRunner()), log: createMemoryLogger(), etc }),
    (e: unknown) => isVezaError(e) && /sshd -t on this machine failed.*(Bad configuration option|Badly formatted port)/.test(e.message));
  const jail = { ...settings, fail2ban: { ...settings.fail2ban, backend: 'auto' as const, logpath: '/nonexistent/auth.log' } };
  await assert.rejects(applyBaseline({ settings: jail, machine: localMachine(createProcessRunner()), log: createMemoryLogger(), etc }),
    (e: unknown) => isVezaError(e) && /fail2ban-client -t on this machine failed.*log file/i.test(e.message));
  for (const f of [SSHD_DROP_IN, FAIL2BAN_JAIL, UNATTENDED]) await assert.rejects(stat(join(etc, f)), `${f} was not installed`);
});

test('unattended-upgrades: a later file re-adding a non-security origin is caught by the apt-config check', async (t) => {
  const etc = await etcCopy(t);
  await writeFile(join(etc, 'apt/apt.conf.d/99local'), 'Unattended-Upgrade::Origins-Pattern { "origin=Debian,codename=${distro_codename},label=Debian"; };\n');
  await assert.rejects(applyBaseline({ settings, machine: localMachine(createProcessRunner()), log: createMemoryLogger(), etc }),
    (e: unknown) => isVezaError(e) && /would not be security-only/.test(e.message) && /99local|sorting after/.test(e.hint));
});

test('where sshd is absent, the SSH drop-in and the sshd jail are skipped with a note', async (t) => {
  const etc = await etcCopy(t, false);
  const r = await applyBaseline({ settings, machine: localMachine(createProcessRunner()), log: createMemoryLogger(), etc });
  assert.deepEqual(r.files.map((f) => [f.path, f.action]), [[SSHD_DROP_IN, 'skipped'], [FAIL2BAN_JAIL, 'skipped'], [UNATTENDED, 'installed']]);
  assert.ok(r.notes.some((n) => /sshd is absent/.test(n)));
});

test('an empty SSH allow-list is refused by the renderer and the host file alike', () => {
  assert.throws(() => renderSshdDropIn({ allowUsers: [], port: 22 }), (e: unknown) => isVezaError(e) && /lock every operator out/.test(e.message));
  assert.equal(hostSettingsSchema.safeParse({ name: 'prod', ssh: { allowUsers: [] }, runner: { url: 'https://forgejo.example' } }).success, false);
});
